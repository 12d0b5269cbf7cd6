"""Web chat: reply latency with N conversations at once, and a restart in the
middle of every conversation.

Starts `triage serve` as it runs in production (its own process, SQLite file
by default or --db-url, SMTP off), opens N WebSocket conversations at once
(`websockets` client) that each walk a support need through the
startformulier; the time from sending a message to the turn's "done" frame
is the reply latency. Halfway, the server is stopped (SIGTERM) and started
again; every conversation reconnects with its session token and must resume
at the question it was at.

    .venv/bin/python benchmarks/bench_chat.py [--conversations 50] [--think 2] [--db-url URL]

--think: seconds a resident takes to read and type before the next message
(each pause drawn uniformly from 0.5x to 1.5x; 0: every conversation sends its
next message the moment it has the reply, a worst case).

Prints p50/p95/p99 latency and the number of conversations lost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
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


def start_server(tmp: Path, port: int, db_url: str | None) -> subprocess.Popen:
    env = {**os.environ, "TRIAGE_DATA_DIR": str(tmp), "TRIAGE_HTTP_PORT": str(port), "TRIAGE_SMTP_ENABLED": "false",
           "TRIAGE_WORKERS": "0", "TRIAGE_CHAT_RATE_LIMIT": "1000"}
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


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def main_async(args) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-chat-"))
    port = free_port()
    url = f"ws://127.0.0.1:{port}/chat/ws"
    proc = start_server(tmp, port, args.db_url)
    latencies: list[float] = []
    try:
        first = await asyncio.gather(*[conversation(url, BEFORE, latencies, think=args.think) for _ in range(args.conversations)])
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        proc = start_server(tmp, port, args.db_url)
        second = await asyncio.gather(*[conversation(url, AFTER, latencies, session=s, think=args.think)
                                       for s, _, _ in first])
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    lost = 0
    for (session, history, last) in second:
        texts = [m["text"] for m in history if m["role"] == "inwoner"]
        done = [f.get("case") for f in last if f["type"] == "done"]
        if texts[-len(BEFORE):] != BEFORE or not (done and done[-1]):
            lost += 1
    ms = [x * 1000 for x in latencies]
    print(f"conversations at once: {args.conversations}, think time {args.think} s, messages: {len(ms)}")
    print(f"reply latency p50 {statistics.median(ms):.1f} ms, p95 {pct(ms, 95):.1f} ms, p99 {pct(ms, 99):.1f} ms, "
          f"max {max(ms):.1f} ms")
    print(f"conversations lost across the restart: {lost}")
    return 0 if lost == 0 else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--conversations", type=int, default=50)
    ap.add_argument("--think", type=float, default=2.0)
    ap.add_argument("--db-url", default=None)
    return asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
