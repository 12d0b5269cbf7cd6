"""Kill `triage serve` with SIGKILL while 1,000 mails arrive over SMTP,
restart it, let the senders retry what was not accepted (as mail servers
do): every mail that got a 250 is stored exactly once, and in the end all
1,000 are stored exactly once."""

import json
import os
import signal
import smtplib
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from servers import free_port

REPO = Path(__file__).resolve().parent.parent
N = 1000
SENDERS = 10
KILL_AFTER = 350


def raw(i: int) -> bytes:
    m = EmailMessage()
    m["From"] = f"Inwoner {i} <inwoner{i}@example.org>"
    m["To"] = "wijkteam@denhelder.nl"
    m["Subject"] = f"Vraag {i}"
    m["Message-ID"] = f"<kill-{i}@example.org>"
    m.set_content(f"Goedendag, ik heb een vraag over de bijzondere bijstand ({i}). Kunt u mij helpen?")
    return m.as_bytes(policy=default.clone(linesep="\r\n"))


def start(env) -> subprocess.Popen:
    log = open(Path(env["TRIAGE_DATA_DIR"]) / "serve.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "triage", "serve"],
                            env=env, cwd=env["TRIAGE_DATA_DIR"], stdout=log, stderr=log, start_new_session=True)
    port = int(env["TRIAGE_SMTP_PORT"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("triage serve exited: " + (Path(env["TRIAGE_DATA_DIR"]) / "serve.log").read_text()[-2000:])
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=2) as s:
                s.noop()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("triage serve did not open its SMTP port")


def deliver(port: int, i: int) -> bool:
    """True when the server answered 250 to the mail."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
            s.sendmail(f"inwoner{i}@example.org", ["wijkteam@denhelder.nl"], raw(i))
        return True
    except (OSError, smtplib.SMTPException):
        return False


def stored_messages(env) -> list[dict]:
    """`triage messages list --json`, as an operator runs it."""
    out = subprocess.run([sys.executable, "-m", "triage", "messages", "list", "--json"], env=env,
                         cwd=env["TRIAGE_DATA_DIR"], capture_output=True, check=True)
    return json.loads(out.stdout)


def stored_ids(env) -> list[str]:
    return [m["channel_message_id"] for m in stored_messages(env)]


def test_sigkill_during_1000_mails_loses_and_duplicates_nothing(tmp_path):
    env = {**os.environ, "TRIAGE_DATA_DIR": str(tmp_path), "TRIAGE_DB_URL": f"sqlite:///{tmp_path / 'k.db'}",
           "TRIAGE_SMTP_PORT": str(free_port()), "TRIAGE_HTTP_PORT": str(free_port()),
           "PYTHONPATH": str(REPO)}
    port = int(env["TRIAGE_SMTP_PORT"])
    proc = start(env)
    accepted: set[int] = set()
    lock = threading.Lock()
    killed = threading.Event()

    def one(i: int) -> None:
        ok = deliver(port, i)
        with lock:
            if ok:
                accepted.add(i)
            if len(accepted) >= KILL_AFTER and not killed.is_set():
                killed.set()
                os.killpg(proc.pid, signal.SIGKILL)

    with ThreadPoolExecutor(SENDERS) as pool:
        list(pool.map(one, range(N)))
    proc.wait(timeout=30)
    assert killed.is_set() and proc.returncode == -signal.SIGKILL
    first_round = set(accepted)
    assert KILL_AFTER <= len(first_round) < N

    # after the restart: every mail that got a 250 is there exactly once
    proc = start(env)
    try:
        ids = stored_ids(env)
        assert len(ids) == len(set(ids))
        assert {f"kill-{i}@example.org" for i in first_round} <= set(ids)
        # the senders retry what got no 250; some retry an accepted one too
        # (their 250 may have been lost on the way): no duplicates either way
        retry = [i for i in range(N) if i not in first_round] + sorted(first_round)[:20]
        with ThreadPoolExecutor(SENDERS) as pool:
            results = list(pool.map(lambda i: deliver(port, i), retry))
        assert all(results)
        ids = stored_ids(env)
        assert len(ids) == N and set(ids) == {f"kill-{i}@example.org" for i in range(N)}
        # and every stored mail was triaged into a case (resume after the crash)
        deadline = time.monotonic() + 90
        rows = stored_messages(env)
        while any(r["case_number"] is None for r in rows) and time.monotonic() < deadline:
            time.sleep(1)
            rows = stored_messages(env)
        assert all(r["case_number"] for r in rows)
        assert len({r["case_number"] for r in rows}) == N
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
