"""Console speed with a full store: every console page and API GET route,
as the role it is for, on a store with 10,000 cases (benchmarks/seed_cases.py).

Routes are read from the app (every GET route with a ``require(...)``
dependency), so new pages are measured without changing this file. Path
parameters get a real case number the role may see. Routes with a list
filter, period or page are measured with the widest values too (WIDE:
``status=closed``, ``tab=gesloten``, ``weken=52``, ``page=20`` ...). The time is the app's own, from the Server-Timing
header the console sets on every response (``app;dur=<ms>``); the time the
client saw (in-process, no network) is printed beside it.

    .venv/bin/python benchmarks/bench_console.py [-n 10000] [--reps 30] [--db-url URL]

Without --db-url a fresh SQLite file in a temporary folder is used; with it,
the database must be empty (the console users kcc, bureaudienst and beheer
are created). tests/test_console_speed.py runs the same measurement with 3
repetitions and fails above 200 ms.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
for p in (REPO, REPO / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from triage.web.auth import required_roles  # noqa: E402  (after the path set-up)

ROLES = ("kcc", "bureaudienst", "beheer")
CASE_PARAMS = ("number", "nummer", "case", "case_number", "zaak", "zaaknummer")
PASSWORDS = {r: f"{r}-bench-wachtwoord-1" for r in ROLES}
LIMIT_MS = 200.0
# query values that make a list or report as large as it gets (unknown values are ignored by the pages)
WIDE = {"status": ("closed", "alle"), "tab": ("aangenomen", "gesloten"), "weken": ("52",), "van": ("2000-01-01",),
        "page": ("20",), "pagina": ("20",)}
TIMING_RX = re.compile(r"dur=([0-9.]+)")


@dataclass(frozen=True)
class Target:
    path: str  # template
    role: str
    query: tuple = ()  # ((name, value), ...)

    @property
    def label(self) -> str:
        q = "&".join(f"{k}={v}" for k, v in self.query)
        return self.path + (f"?{q}" if q else "")


def get_routes(app) -> list[tuple[str, tuple, tuple]]:
    """(path, roles, query parameter names) of every GET route that needs a role."""
    try:
        from fastapi.routing import iter_route_contexts

        contexts = list(iter_route_contexts(app.routes))
    except ImportError:  # pragma: no cover - older FastAPI: a flat list
        contexts = list(app.routes)
    out, seen = [], set()
    for ctx in contexts:
        dep = getattr(ctx, "dependant", None)
        if dep is None or "GET" not in (getattr(ctx, "methods", None) or ()):
            continue
        found = required_roles(dep)
        if not found:
            continue
        allowed = set(found[0]).intersection(*map(set, found[1:]))
        roles = tuple(r for r in ROLES if r in allowed)
        query = tuple(getattr(q, "alias", None) or q.name for q in dep.query_params)
        if ctx.path not in seen and roles:
            seen.add(ctx.path)
            out.append((ctx.path, roles, query))
    return out


def targets(app) -> list[Target]:
    out = []
    for path, roles, query in get_routes(app):
        for role in roles:
            out.append(Target(path, role))
            for name in query:  # the widest lists as well
                out += [Target(path, role, ((name, v),)) for v in WIDE.get(name, ())]
    return out


def fill(path: str, number: str | None) -> str:
    def one(m):
        name = m.group(1)
        if name in CASE_PARAMS or "number" in name:
            return number or "SWT-2000-000000"
        if "user" in name:
            return "kcc"
        return "onbekend"

    return re.sub(r"\{(\w+)(?::\w+)?\}", one, path)


def server_ms(response) -> float:
    m = TIMING_RX.search(response.headers.get("server-timing", ""))
    if not m:
        raise AssertionError(f"no Server-Timing header on {response.request.url}")
    return float(m.group(1))


def measure(clients: dict, app, numbers: dict, reps: int = 3, warmup: int = 1) -> list[dict]:
    """Each target: ``warmup`` requests, then ``reps`` timed ones. Returns one
    row per target: label, role, status, server times (ms), client times (ms).
    ``numbers``: a case number per role that the role may see."""
    rows = []
    for t in targets(app):
        c = clients[t.role]
        url = fill(t.path, numbers.get(t.role))
        params = dict(t.query)
        for _ in range(warmup):
            c.get(url, params=params)
        server, wall, status = [], [], None
        for _ in range(reps):
            t0 = time.perf_counter()
            r = c.get(url, params=params)
            wall.append((time.perf_counter() - t0) * 1000)
            server.append(server_ms(r))
            status = r.status_code
        filled = "{" not in t.path or numbers.get(t.role) is not None
        rows.append({"route": t.label, "url": url, "role": t.role, "status": status, "server": server, "wall": wall,
                     "filled": filled})
    return rows


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def table(rows: list[dict], full: bool = False) -> str:
    width = max([len(r["route"]) for r in rows] + [5])
    if full:
        head = f"{'route':<{width}}  {'role':<12} {'code':>4} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'client p50':>10}"
    else:
        head = f"{'route':<{width}}  {'role':<12} {'code':>4} {'median ms':>9}  (runs)"
    lines = [head]
    for r in rows:
        if full:
            lines.append(f"{r['route']:<{width}}  {r['role']:<12} {r['status']:>4} {pct(r['server'], .5):7.1f} "
                         f"{pct(r['server'], .95):7.1f} {max(r['server']):7.1f} {pct(r['wall'], .5):10.1f}")
        else:
            lines.append(f"{r['route']:<{width}}  {r['role']:<12} {r['status']:>4} "
                         f"{statistics.median(r['server']):9.1f}  ({', '.join(f'{x:.1f}' for x in r['server'])})")
    return "\n".join(lines)


def visible_numbers(store) -> dict:
    """An open case of each queue (the newest): the one its role opens."""
    from sqlmodel import select

    from triage.store import Case

    out = {}
    with store.session() as s:
        for q in ("kcc", "bureaudienst"):
            out[q] = s.exec(select(Case.number).where(Case.queue == q, Case.status == "open")
                            .order_by(Case.id.desc())).first()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=10_000, help="cases to seed (default 10,000)")
    ap.add_argument("--reps", type=int, default=30, help="timed requests per route (default 30)")
    ap.add_argument("--db-url", default=None, help="an empty database (default: a temporary SQLite file)")
    args = ap.parse_args(argv)

    from fastapi.testclient import TestClient

    from seed_cases import seed
    from triage.config import get_settings
    from triage.service import Service
    from triage.web.app import create_app
    from triage.web.auth import hash_password

    tmp = tempfile.TemporaryDirectory(prefix="bench-console-")
    overrides = {"data_dir": Path(tmp.name), "smtp_enabled": False, "workers": 0, "telegram_token": "",
                 "imap_host": "", "outbound_smtp": ""}
    if args.db_url:
        overrides["db_url"] = args.db_url
    service = Service(get_settings(**overrides)).start()
    try:
        for role in ROLES:
            service.store.add_user(role, role, hash_password(PASSWORDS[role]), actor="bench")
        info = seed(service.store, n=args.n, triage=service.triage)
        print(f"seeded {info['cases']} cases in {info['seconds']} s: {info['by_queue_status']}", file=sys.stderr)
        app = create_app(triage=service.triage, service=service)
        clients = {}
        for role in ROLES:
            c = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
            c.__enter__()
            c.get("/login")
            r = c.post("/login", data={"username": role, "password": PASSWORDS[role],
                                       "csrf": c.cookies.get("triage_login_csrf", path="/login") or ""})
            assert r.status_code == 303, r.text
            clients[role] = c
        rows = measure(clients, app, visible_numbers(service.store), reps=args.reps, warmup=2)
        print(f"\nconsole GET routes with {args.n:,} cases, {args.reps} requests each after 2 warm-ups "
              f"(server time from Server-Timing; client: in-process round trip)\n")
        print(table(rows, full=True))
        slow = [r for r in rows if pct(r["server"], .95) > LIMIT_MS]
        print(f"\n{len(rows)} routes; p95 above {LIMIT_MS:.0f} ms: "
              + (", ".join(f"{r['route']} ({r['role']})" for r in slow) or "none"))
    finally:
        service.stop()
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
