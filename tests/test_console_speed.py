"""Every console page and API GET route answers within 200 ms with 10,000
cases in the store.

The routes are read from the app (every GET route that needs a role), so a
new page is measured without changing this test. Each is requested as the
role it is for, with a real case number that role may see in its path; the
time is the app's own from the Server-Timing header, the median of 3
requests after one warm-up. benchmarks/bench_console.py measures the same
with more requests and prints p50/p95.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "benchmarks") not in sys.path:
    sys.path.insert(0, str(REPO / "benchmarks"))

from bench_console import LIMIT_MS, get_routes, measure, table, visible_numbers  # noqa: E402
from seed_cases import seed  # noqa: E402

N_CASES = 10_000


def test_every_console_get_route_within_200_ms_with_10000_cases(console):
    info = seed(console.store, n=N_CASES, triage=console.service.triage)
    assert info["cases"] == N_CASES and info["seconds"] < 20, info
    routes = get_routes(console.app)
    assert routes, "no GET route with require(...) found"
    clients = {role: console.client(role) for role in ("kcc", "bureaudienst", "beheer")}
    numbers = visible_numbers(console.store)
    assert numbers["kcc"] and numbers["bureaudienst"]

    rows = measure(clients, console.app, numbers, reps=3, warmup=1)
    print(f"\n{N_CASES:,} cases (seeded in {info['seconds']} s); median of 3 after 1 warm-up, "
          "server time from Server-Timing\n" + table(rows))

    assert len(rows) >= len(routes)
    # a page must load for its own role (a case page for a role without a case of its own may say 404)
    wrong = [f"{r['route']} ({r['role']}): {r['status']}" for r in rows
             if not (200 <= r["status"] < 400 or (r["status"] == 404 and not r["filled"]))]
    assert not wrong, f"pages that did not load for their own role: {wrong}"
    slow = [f"{r['route']} ({r['role']}): {statistics.median(r['server']):.0f} ms" for r in rows
            if statistics.median(r["server"]) > LIMIT_MS]
    assert not slow, f"slower than {LIMIT_MS:.0f} ms with {N_CASES:,} cases: {slow}"
