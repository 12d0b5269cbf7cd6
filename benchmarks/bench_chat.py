"""Web chat: reply latency with N conversations at once, and a restart in the
middle of every conversation.

Starts `triage serve` as it runs in production (its own process, SQLite file
by default or --db-url, SMTP on a free port, --workers mail worker processes),
opens N WebSocket conversations at once (`websockets` client) that each walk
a support need through the startformulier; the time from sending a message
to the turn's "done" frame is the reply latency. Halfway, the server is stopped (SIGTERM) and started
again; every conversation reconnects with its session token and must resume
at the question it was at.

    .venv/bin/python benchmarks/bench_chat.py [--conversations 50] [--think 2] [--db-url URL] [--workers 2]

--think: seconds a resident takes to read and type before the next message
(each pause drawn uniformly from 0.5x to 1.5x; 0: every conversation sends its
next message the moment it has the reply, a worst case).

Prints p50/p95/p99 latency, the number of conversations lost, and the CPU
time the server process and this client used per message (both run on the
same machine: on 2 cores they share them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from websockets.asyncio.client import connect

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from servers import free_port  # noqa: E402

SUPPORT = "Ik heb schulden en mijn zoon gaat niet meer naar school en ik ben zelf depressief. Ik wil graag hulp."
BEFORE = [SUPPORT, "Jan de Vries", "06 12345678"]
AFTER = ["1781 AB 12", "ja", "ja", "ochtend", "ja"]


def start_server(tmp: Path, port: int, db_url: str | None, workers: int, smtp_port: int) -> subprocess.Popen:
    env = {**os.environ, "TRIAGE_DATA_DIR": str(tmp), "TRIAGE_HTTP_PORT": str(port), "TRIAGE_SMTP_PORT": str(smtp_port),
           "TRIAGE_WORKERS": str(workers), "TRIAGE_CHAT_RATE_LIMIT": "1000"}
    if db_url:
        env["TRIAGE_DB_URL"] = db_url
    log = open(tmp / "serve.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "triage", "serve"], env=env, cwd=tmp, stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1):
                return proc
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    raise SystemExit("triage serve did not start:\n" + (tmp / "serve.log").read_text()[-2000:])


async def turn(ws) -> list[dict]:
    frames = []
    while True:
        frame = json.loads(await ws.recv())
        frames.append(frame)
        if frame["type"] == "done":
            return frames


async def conversation(url: str, texts: list[str], latencies: list[float], session: str | None = None,
                       think: float = 0.0):
    if think:
        await asyncio.sleep(random.uniform(0, think))  # residents do not all start in the same millisecond
    async with connect(url + (f"?session={session}" if session else "")) as ws:
        frames = await turn(ws)
        session = frames[0]["session"]
        history = next((f["messages"] for f in frames if f["type"] == "history"), [])
        last = None
        for text in texts:
            if think:
                await asyncio.sleep(random.uniform(0.5, 1.5) * think)
            t0 = time.perf_counter()
            await ws.send(json.dumps({"type": "message", "text": text}))
            last = await turn(ws)
            latencies.append(time.perf_counter() - t0)
        return session, history, last


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User + system CPU seconds of a running process and of its child
    processes (the triage workers), from Linux /proc."""
    def stat(p: str) -> list[str]:
        return Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()

    tick = os.sysconf("SC_CLK_TCK")
    try:
        own = stat(str(pid))
    except OSError:
        return float("nan"), float("nan")
    children = 0.0
    for p in os.listdir("/proc"):
        if p.isdigit() and p != str(pid):
            try:
                f = stat(p)
            except OSError:
                continue
            if f[1] == str(pid):  # parent pid
                children += int(f[11]) + int(f[12])
    return (int(own[11]) + int(own[12])) / tick, children / tick


def stop_server(proc: subprocess.Popen) -> tuple[float, float]:
    """SIGTERM, wait; the CPU seconds used just before it stops."""
    used = cpu_seconds(proc.pid)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    return used


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def main_async(args) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-chat-"))
    port, smtp_port = free_port(), free_port()
    url = f"ws://127.0.0.1:{port}/chat/ws"
    proc = start_server(tmp, port, args.db_url, args.workers, smtp_port)
    latencies: list[float] = []
    server_cpu = [0.0, 0.0]
    client0 = resource.getrusage(resource.RUSAGE_SELF)

    def add_cpu(before: tuple[float, float], after: tuple[float, float]) -> None:
        server_cpu[0] += after[0] - before[0]
        server_cpu[1] += after[1] - before[1]

    try:
        cpu0 = cpu_seconds(proc.pid)  # start-up (model loading) is not counted
        first = await asyncio.gather(*[conversation(url, BEFORE, latencies, think=args.think) for _ in range(args.conversations)])
        add_cpu(cpu0, stop_server(proc))
        proc = start_server(tmp, port, args.db_url, args.workers, smtp_port)
        cpu0 = cpu_seconds(proc.pid)
        second = await asyncio.gather(*[conversation(url, AFTER, latencies, session=s, think=args.think)
                                       for s, _, _ in first])
        add_cpu(cpu0, stop_server(proc))
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=60)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    client1 = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (client1.ru_utime + client1.ru_stime) - (client0.ru_utime + client0.ru_stime)
    lost = 0
    for (session, history, last) in second:
        texts = [m["text"] for m in history if m["role"] == "inwoner"]
        done = [f.get("case") for f in last if f["type"] == "done"]
        if texts[-len(BEFORE):] != BEFORE or not (done and done[-1]):
            lost += 1
    ms = [x * 1000 for x in latencies]
    print(f"conversations at once: {args.conversations}, think time {args.think} s, workers {args.workers}, "
          f"messages: {len(ms)}")
    print(f"reply latency p50 {statistics.median(ms):.1f} ms, p95 {pct(ms, 95):.1f} ms, p99 {pct(ms, 99):.1f} ms, "
          f"max {max(ms):.1f} ms")
    print(f"conversations lost across the restart: {lost}")
    print(f"CPU per message: server {server_cpu[0] / len(ms) * 1000:.1f} ms, its worker processes "
          f"{server_cpu[1] / len(ms) * 1000:.1f} ms, this client {client_cpu / len(ms) * 1000:.1f} ms")
    return 0 if lost == 0 else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--conversations", type=int, default=50)
    ap.add_argument("--think", type=float, default=2.0)
    ap.add_argument("--db-url", default=None)
    ap.add_argument("--keep", action="store_true", help="keep the server's folder (database, serve.log)")
    ap.add_argument("--workers", type=int, default=2,
                    help="TRIAGE_WORKERS (mail parsing and triage), as in production; 0: none")
    return asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
