import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def triage():
    """The shipped models in models/ (rebuilt by `triage train`)."""
    from triage.pipeline import Triage

    return Triage(REPO / "models")


@pytest.fixture(scope="session")
def corpus():
    from triage.dataset import load_records

    return load_records(REPO / "training_data" / "messages")


@pytest.fixture
def store(tmp_path):
    """A migrated store on a fresh SQLite file (test_store.py and
    test_chat_service.py override it to run on PostgreSQL as well)."""
    from triage.store import Store

    s = Store(f"sqlite:///{tmp_path / 'triage.db'}")
    s.migrate()
    yield s
    s.engine.dispose()


def write_jsonl(path: Path, rows) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


PASSWORDS = {"kcc": "kcc-wachtwoord-123", "bureaudienst": "bureau-wachtwoord-123", "beheer": "beheer-wachtwoord-123"}


class Console:
    """A running product (store on a fresh SQLite file, no SMTP) with its
    console, one user per role (user name = role) and helpers to fill it."""

    def __init__(self, service, app):
        self.service, self.app, self.store = service, app, service.store

    def client(self, role: str | None = None):
        """A TestClient, logged in as ``role`` (None: not logged in)."""
        from fastapi.testclient import TestClient

        c = TestClient(self.app, base_url="http://127.0.0.1", follow_redirects=False)
        c.__enter__()
        if role:
            c.get("/login")
            r = c.post("/login", data={"username": role, "password": PASSWORDS[role],
                                       "csrf": c.cookies.get("triage_login_csrf", path="/login") or ""})
            assert r.status_code == 303, r.text
            c.csrf = self.csrf_of(c)
        return c

    @staticmethod
    def csrf_of(c) -> str:
        import re

        page = c.get("/console", follow_redirects=True).text
        m = re.search(r'name="csrf" value="([^"]+)"', page)
        return m.group(1) if m else ""

    def mail(self, text: str, subject: str = "Vraag", sender: str = "inwoner@example.nl", key: str | None = None):
        """A mail stored and triaged as the SMTP channel would: returns the case number."""
        import uuid

        key = key or f"<{uuid.uuid4().hex}@example.nl>"
        rec, dup = self.store.save_inbound(kanaal="email", channel_message_id=key, idempotency_key=key, afzender=sender,
                                           afzender_naam=None, onderwerp=subject, inhoud=text, raw=None)
        return self.service.intake.after_store(rec, dup).case_number


@pytest.fixture
def console(tmp_path, triage):
    from triage.config import get_settings
    from triage.service import Service
    from triage.web.app import create_app
    from triage.web.auth import hash_password

    settings = get_settings(data_dir=tmp_path / "data", smtp_enabled=False, workers=0, telegram_token="")
    service = Service(settings).start(triage=triage)
    for role, pw in PASSWORDS.items():
        service.store.add_user(role, role, hash_password(pw), display_name=f"Test {role}")
    app = create_app(triage=service.triage, service=service)
    yield Console(service, app)
    service.stop()
