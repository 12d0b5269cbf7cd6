"""`triage serve` as a real process: what it writes to its log holds no
chat session token, phone number, e-mail address, BSN or message text,
also while the console and the web chat are used."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

websockets = pytest.importorskip("websockets.sync.client")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_log_has_no_tokens_or_personal_data(tmp_path):
    http, smtp = free_port(), free_port()
    env = {**os.environ, "TRIAGE_DATA_DIR": str(tmp_path / "data"), "TRIAGE_HTTP_PORT": str(http),
           "TRIAGE_SMTP_PORT": str(smtp), "TRIAGE_WORKERS": "0"}
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "triage", "serve"], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http}/api/health", timeout=2) as r:
                    if json.load(r)["status"] == "ok":
                        break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        token = "Zz9SessieTokenDatGeheimIs01"
        secrets = ["0612345678", "jan.jansen@example.nl", "111222333", "Klaverweide"]
        with websockets.connect(f"ws://127.0.0.1:{http}/chat/ws?session={token}") as ws:
            first = json.loads(ws.recv())
            assert first["type"] == "session"
            while json.loads(ws.recv())["type"] != "done":
                pass
            ws.send(json.dumps({"type": "message", "text": "Ik heb grote schulden en mijn zoon spijbelt. Bel me op "
                                "0612345678 of mail jan.jansen@example.nl, BSN 111222333, Klaverweide 3."}))
            while json.loads(ws.recv())["type"] != "done":
                pass
        urllib.request.urlopen(f"http://127.0.0.1:{http}/login", timeout=5).read()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = log_path.read_text(encoding="utf-8", errors="replace")
    assert "WebSocket /chat/ws?…" in text, text  # the connection was logged, without its query string
    session = first["session"]
    for secret in [token, session, *secrets]:
        assert secret not in text, f"{secret!r} leaked into the log"


def test_sigterm_stops_serve_with_its_worker_processes(tmp_path):
    http, smtp = free_port(), free_port()
    env = {**os.environ, "TRIAGE_DATA_DIR": str(tmp_path / "data"), "TRIAGE_HTTP_PORT": str(http),
           "TRIAGE_SMTP_PORT": str(smtp), "TRIAGE_WORKERS": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "triage", "serve"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http}/api/health", timeout=2):
                break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert len(children) >= 2  # the mail workers (and multiprocessing's resource tracker)
    proc.terminate()
    assert proc.wait(timeout=60) == 0
    deadline = time.monotonic() + 10
    while any(os.path.exists(f"/proc/{pid}") for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [pid for pid in children if os.path.exists(f"/proc/{pid}")
            and "zombie" not in open(f"/proc/{pid}/status").read().lower()]
    assert left == [], f"worker processes left after SIGTERM: {left}"
