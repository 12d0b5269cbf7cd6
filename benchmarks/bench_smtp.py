"""SMTP accept to case stored, with N concurrent senders.

Starts `triage serve` as it runs in production (its own process, SQLite
file by default or --db-url), then has 20 senders each deliver mails over
real SMTP. The SMTP server answers 250 only after the message AND its case
are committed, so the time from the end of DATA to the 250 reply is the
"accept to case stored" latency.

    .venv/bin/python benchmarks/bench_smtp.py [--mails 1000] [--senders 20] [--db-url URL]

Prints p50/p95/p99 latency, sustained mails/s, and checks that every mail
made a case.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from servers import free_port  # noqa: E402


def corpus_texts() -> list[tuple[str, str]]:
    sys.path.insert(0, str(REPO))
    from triage.dataset import load_records

    recs = [r for r in load_records(REPO / "training_data" / "messages") if r.channel == "email"]
    return [(r.subject or "Vraag", r.text) for r in recs]


def build(i: int, subject: str, text: str) -> bytes:
    m = EmailMessage()
    m["From"] = f"Inwoner {i} <inwoner{i}@example.org>"
    m["To"] = "wijkteam@denhelder.nl"
    m["Subject"] = subject
    m["Message-ID"] = f"<bench-{i}-{time.time_ns()}@example.org>"
    m.set_content(text)
    return m.as_bytes(policy=default.clone(linesep="\r\n"))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mails", type=int, default=1000)
    ap.add_argument("--senders", type=int, default=20)
    ap.add_argument("--db-url", default="")
    ap.add_argument("--rate", type=float, default=0.0,
                    help="offered load in mails/s over all senders (0: each sender sends as fast as it can)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-smtp-"))
    port = free_port()
    env = {**os.environ, "TRIAGE_DATA_DIR": str(tmp), "TRIAGE_SMTP_PORT": str(port),
           "TRIAGE_HTTP_PORT": str(free_port()), "PYTHONPATH": str(REPO)}
    if args.db_url:
        env["TRIAGE_DB_URL"] = args.db_url
    log = open(tmp / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "triage", "serve"], env=env, cwd=tmp, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=2) as s:
                    s.noop()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("triage serve did not start:\n" + (tmp / "serve.log").read_text()[-2000:])
                time.sleep(0.1)

        texts = corpus_texts()
        rng = random.Random(7)
        mails = [build(i, *rng.choice(texts)) for i in range(args.mails)]
        per_sender = [mails[k::args.senders] for k in range(args.senders)]

        def sender(batch: list[bytes], k: int) -> list[float]:
            lat = []
            interval = args.senders / args.rate if args.rate else 0.0
            start = t_start + k * (interval / args.senders if interval else 0)
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
                s.ehlo()
                for j, raw in enumerate(batch):
                    if interval:  # open loop: each mail at its own moment
                        wait = start + j * interval - time.perf_counter()
                        if wait > 0:
                            time.sleep(wait)
                    s.mail("inwoner@example.org")
                    s.rcpt("wijkteam@denhelder.nl")
                    # the clock runs over DATA: the message (loopback, < 1 ms) and the
                    # wait for the 250 that comes after the case is committed
                    t0 = time.perf_counter()
                    code, _ = s.data(raw)
                    lat.append(time.perf_counter() - t0)
                    assert code == 250, code
            return lat

        t0 = t_start = time.perf_counter() + 0.5
        with ThreadPoolExecutor(args.senders) as pool:
            lats = [x for part in pool.map(sender, per_sender, range(args.senders)) for x in part]
        wall = time.perf_counter() - t0
        out = subprocess.run([sys.executable, "-m", "triage", "messages", "list", "--json"], env=env, cwd=tmp,
                             capture_output=True, check=True)
        rows = json.loads(out.stdout)
        with_case = sum(1 for r in rows if r["case_number"])
        q = statistics.quantiles(lats, n=100)
        result = {
            "mails": args.mails, "senders": args.senders, "offered_rate": args.rate or "max", "db": args.db_url.split("://")[0] if args.db_url else "sqlite",
            "p50_ms": round(q[49] * 1000, 1), "p95_ms": round(q[94] * 1000, 1), "p99_ms": round(q[98] * 1000, 1),
            "max_ms": round(max(lats) * 1000, 1), "mails_per_s": round(args.mails / wall, 1),
            "stored": len(rows), "with_case": with_case, "cpus": os.cpu_count(),
        }
        print(json.dumps(result, indent=2))
        return 0 if with_case == args.mails else 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
