"""The operator commands on a real SQLite file, as a person runs them."""

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from channels.mime import parse_email
from triage.intake import Intake
from triage.store import Store, utcnow

REPO = Path(__file__).resolve().parent.parent


def run(*args, db_url):
    return subprocess.run([sys.executable, "-m", "triage", *args, "--db-url", db_url], capture_output=True,
                          text=True, cwd=REPO, timeout=120)


def test_messages_cases_and_retention_commands(tmp_path, triage):
    url = f"sqlite:///{tmp_path / 't.db'}"
    store = Store(url)
    store.migrate()
    intake = Intake(store, triage)
    need = intake.receive_email(parse_email(
        b"From: p@example.org\r\nSubject: hulp\r\nMessage-ID: <c1@x>\r\n\r\n"
        b"Mijn vader kan niet meer zelf douchen en heeft hulp nodig in huis. Bel 0612345678.\r\n"))
    intake.receive_email(parse_email(
        b"From: p@example.org\r\nSubject: Automatisch antwoord: hulp\r\nMessage-ID: <c2@x>\r\n\r\nIk ben afwezig.\r\n"))
    store.close_case(need.case_number, actor="test", when=utcnow() - timedelta(days=1000))

    out = run("messages", "list", "--json", db_url=url)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [(r["channel_message_id"], r["case_number"]) for r in rows] == [("c1@x", need.case_number), ("c2@x", None)]

    out = run("cases", "list", "--json", db_url=url)
    assert [c["number"] for c in json.loads(out.stdout)] == [need.case_number]

    out = run("cases", "show", need.case_number, db_url=url)
    assert out.returncode == 0 and need.case_number in out.stdout and "0612345678" in out.stdout
    assert "0612345678" not in out.stderr  # nothing personal in the log
    assert run("cases", "show", "SWT-1999-000001", db_url=url).returncode == 1

    out = run("retention", "run", db_url=url)
    assert out.returncode == 0 and out.stdout.startswith("1 closed cases")
    shown = run("cases", "show", need.case_number, "--json", db_url=url)
    assert "0612345678" not in shown.stdout


def test_unreachable_database_is_a_clear_error():
    out = run("messages", "list", "--json", db_url="postgresql+psycopg://triage:x@127.0.0.1:1/none")
    assert out.returncode == 3
    assert "database unavailable" in out.stderr and "Traceback" not in out.stderr
