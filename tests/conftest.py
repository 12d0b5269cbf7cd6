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


CHROMIUM = __import__("os").environ.get("TRIAGE_TEST_CHROMIUM", "/usr/bin/chromium")
# screenshots of the console's main pages are kept here (the test output)
SCREENSHOTS = REPO / "tests" / "output" / "screenshots"


@pytest.fixture(scope="session")
def chromium():
    """Headless Chromium (the system's /usr/bin/chromium) driven by Playwright."""
    import os
    import shutil

    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                    "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


class LiveConsole(Console):
    """The console served by a real uvicorn on a free port (for the browser)."""

    def login_page(self, browser, role: str):
        """A new browser page, logged in as ``role`` through the login form."""
        page = browser.new_page()
        page.goto(f"{self.url}/login")
        page.get_by_label("Gebruikersnaam").fill(role)
        page.get_by_label("Wachtwoord").fill(PASSWORDS[role])
        page.get_by_role("button", name="Inloggen").click()
        page.wait_for_load_state()
        return page

    @staticmethod
    def screenshot(page, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def live_console(console):
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(console.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    live = LiveConsole(console.service, console.app)
    live.url = f"http://127.0.0.1:{port}"
    yield live
    server.should_exit = True
    thread.join(timeout=15)
