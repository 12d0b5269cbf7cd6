"""Telegram in webhook mode: `triage serve`'s Service and app in a real uvicorn
on loopback, python-telegram-bot talking to the fake Bot API of
test_telegram (setWebhook recorded, sendMessage collected), and real Update
JSON posted to POST /telegram/webhook over HTTP, as Telegram would."""

import json
import re
import threading
import time
import urllib.error
import urllib.request

import pytest
import uvicorn
from pydantic import ValidationError
from sqlmodel import select

from channels.chat import ChatService
from channels.telegram import ONLY_TEXT, SECRET_HEADER, TelegramBot
from servers import free_port
from test_telegram import CRISIS, SUPPORT, TOKEN, FakeBotApi, update_json
from triage.config import Settings
from triage.conversation import TEXTS
from triage.service import Service
from triage.store import Case, InboundRecord
from triage.web.app import create_app

NL = TEXTS["nl"]
URL = "https://chat.example.nl/telegram/webhook"
SECRET = "Zr4-webhook_secret-9f2c1e7a"


class Serve:
    """Service + uvicorn with the app of `triage serve`, in this process."""

    def __init__(self, settings, triage):
        self.service = Service(settings).start(triage=triage)
        self.port = free_port()
        self.app = create_app(triage=triage, service=self.service)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)

    def post(self, body, secret: str | None = SECRET) -> tuple[int, float]:
        """POST to /telegram/webhook; (status, seconds until the answer)."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/telegram/webhook", data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
        if secret is not None:
            req.add_header(SECRET_HEADER, secret)
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, time.perf_counter() - t0
        except urllib.error.HTTPError as exc:
            return exc.code, time.perf_counter() - t0

    def stop(self):
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.service.stop()


@pytest.fixture
def api():
    fake = FakeBotApi().start()
    yield fake
    fake.stop()


def settings(tmp_path, api, **extra) -> Settings:
    return Settings(data_dir=tmp_path, smtp_enabled=False, workers=0, telegram_token=TOKEN,
                    telegram_api_url=api.base_url, **extra)


@pytest.fixture
def serve(tmp_path, triage, api):
    s = Serve(settings(tmp_path, api, telegram_webhook_url=URL, telegram_webhook_secret=SECRET), triage)
    yield s
    s.stop()


def stored(service) -> list[InboundRecord]:
    with service.store.session() as s:
        return list(s.exec(select(InboundRecord).order_by(InboundRecord.id)).all())


def test_start_sets_the_webhook_with_the_secret_and_does_not_poll(serve, api):
    assert api.calls[0] == "getMe" and "setWebhook" in api.calls
    assert "getUpdates" not in api.calls and "deleteWebhook" not in api.calls
    assert api.webhook["url"] == URL and api.webhook["secret_token"] == SECRET
    assert json.loads(api.webhook["allowed_updates"]) == ["message"]


def test_an_update_is_stored_before_the_200_and_answered_through_the_bot_api(serve, api):
    status, seconds = serve.post(update_json(SUPPORT, chat_id=31, update_id=501))
    assert status == 200 and seconds < 1.0
    # acknowledged only once stored: the message is in the store the moment the 200 is there
    [msg] = stored(serve.service)
    assert (msg.kanaal, msg.channel_message_id, msg.inhoud) == ("chat", "telegram:31", SUPPORT)
    first = api.replies(31, count=3)
    assert "Privacy" in first[0] and first[1:] == [NL["form_intro_support"], NL["q_naam"]]
    assert serve.post(update_json("Jan de Vries", chat_id=31, update_id=502))[0] == 200
    assert api.replies(31, after=3, count=1) == [NL["q_contact"]]
    # a crisis through the webhook: the numbers at once and a spoed case
    assert serve.post(update_json(CRISIS, chat_id=31, update_id=503))[0] == 200
    crisis = api.replies(31, after=4, count=2)
    assert "112" in crisis[0] and "113" in crisis[0]
    with serve.service.store.session() as s:
        [case] = s.exec(select(Case)).all()
    assert (case.category, case.priority) == ("crisis", "spoed") and case.number in crisis[1]
    assert {m.status for m in stored(serve.service)} == {"triaged"}


def test_a_kcc_answer_from_the_console_api_reaches_the_chat_in_webhook_mode(serve, api):
    from fastapi.testclient import TestClient

    from channels.chat import answer_text
    from test_telegram import INFO_TO_CASE
    from triage.web.auth import hash_password

    for i, text in enumerate(INFO_TO_CASE):
        assert serve.post(update_json(text, chat_id=37, update_id=1100 + i))[0] == 200
    deadline = time.monotonic() + 20
    while not (number := serve.service.store.conversation("telegram", "37").state.get("case_number")):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # a KCC agent answers through the console's JSON API (logged in)
    serve.service.store.add_user("kcc", "kcc", hash_password("kcc-wachtwoord-123"))
    with TestClient(serve.app, base_url="http://127.0.0.1", follow_redirects=False) as c:
        c.get("/login")
        assert c.post("/login", data={"username": "kcc", "password": "kcc-wachtwoord-123",
                                      "csrf": c.cookies.get("triage_login_csrf", path="/login")}).status_code == 303
        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/console", follow_redirects=True).text).group(1)
        page = c.get(f"/kcc/zaak/{number}").text
        assert "Het antwoord komt in het Telegram-gesprek van de inwoner" in page and "binnen een paar seconden" in page
        r = c.post(f"/api/kcc/cases/{number}/answer", json={"body": "U kunt een paspoort aanvragen bij de balie."},
                   headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200 and r.json()["kanaal"] == "telegram" and "klaargezet" in r.json()["message"]
        text = answer_text("U kunt een paspoort aanvragen bij de balie.")
        deadline = time.monotonic() + 10
        while "Verstuurd via Telegram" not in c.get(f"/kcc/zaak/{number}").text:
            assert time.monotonic() < deadline, "the answer was not marked sent"
            time.sleep(0.1)
    assert [m["text"] for m in api.sent if m["chat_id"] == 37].count(text) == 1


def test_wrong_or_missing_secret_is_refused_and_nothing_is_stored(serve, api):
    assert serve.post(update_json(SUPPORT, chat_id=32, update_id=601), secret="not-the-secret")[0] == 403
    assert serve.post(update_json(SUPPORT, chat_id=32, update_id=602), secret=SECRET[:-1])[0] == 403
    assert serve.post(update_json(SUPPORT, chat_id=32, update_id=603), secret=None)[0] == 403
    time.sleep(0.3)
    assert stored(serve.service) == [] and not [m for m in api.sent if m["chat_id"] == 32]
    assert serve.service.store.conversation("telegram", "32") is None


def test_the_same_update_twice_is_answered_once(serve, api):
    update = update_json(SUPPORT, chat_id=33, update_id=701)
    assert serve.post(update)[0] == 200
    assert len(api.replies(33, count=3)) == 3
    assert serve.post(update)[0] == 200  # Telegram delivers it again
    assert serve.post(update_json("Jan de Vries", chat_id=33, update_id=702))[0] == 200
    assert api.replies(33, after=3, count=1) == [NL["q_contact"]]
    time.sleep(0.3)
    assert len([m for m in api.sent if m["chat_id"] == 33]) == 4
    assert [m.inhoud for m in stored(serve.service)] == [SUPPORT, "Jan de Vries"]


def test_commands_groups_photos_and_bad_bodies(serve, api):
    assert serve.post(update_json("/start", chat_id=34, update_id=801))[0] == 200
    assert "Privacy" in api.replies(34, count=1)[0]
    assert serve.post(update_json("/stop", chat_id=34, update_id=802))[0] == 200
    assert "U heeft het gesprek gestopt." in api.replies(34, after=1, count=1)[0]
    assert [m.inhoud for m in stored(serve.service)] == ["stop"]  # stored once, as the conversation reads it
    assert serve.post(update_json("Wie weet iets over schulden?", chat_id=-100, chat_type="group",
                                  update_id=803))[0] == 200
    assert serve.post(update_json(chat_id=35, update_id=804, photo=True))[0] == 200
    assert api.replies(35, count=1) == [ONLY_TEXT["nl"]]
    assert serve.post(b"{not json")[0] == 400
    assert serve.post({"message": {}})[0] == 400
    time.sleep(0.3)
    assert not [m for m in api.sent if m["chat_id"] == -100] and len(stored(serve.service)) == 1


def test_a_webhook_needs_an_https_url_and_a_secret(store, triage):
    with pytest.raises(ValidationError, match="TRIAGE_TELEGRAM_WEBHOOK_SECRET must be set") as refused:
        Settings(telegram_token=TOKEN, telegram_webhook_url=URL, imap_password="hunter2")
    assert TOKEN not in str(refused.value) and "hunter2" not in str(refused.value)  # no other setting shown
    with pytest.raises(ValidationError, match="https"):
        Settings(telegram_token=TOKEN, telegram_webhook_url="http://chat.example.nl/telegram/webhook",
                 telegram_webhook_secret=SECRET)
    with pytest.raises(ValidationError, match="letters, digits"):
        Settings(telegram_token=TOKEN, telegram_webhook_url=URL, telegram_webhook_secret="geheim wachtwoord!")
    with pytest.raises(ValueError, match="TRIAGE_TELEGRAM_WEBHOOK_SECRET"):
        TelegramBot(ChatService(store, triage), TOKEN, webhook_url=URL)
    assert Settings().telegram_webhook_url == ""  # long polling is the default


def test_with_long_polling_the_endpoint_is_not_there(tmp_path, triage, api):
    s = Serve(settings(tmp_path, api), triage)
    try:
        assert "getUpdates" in api.calls or api.calls[:2] == ["getMe", "deleteWebhook"]
        assert s.post(update_json(SUPPORT, chat_id=36, update_id=901))[0] == 404
        assert stored(s.service) == []
    finally:
        s.stop()


def test_triage_serve_refuses_to_start_with_a_webhook_url_and_no_secret(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "TRIAGE_DATA_DIR": str(tmp_path), "TRIAGE_TELEGRAM_TOKEN": TOKEN,
           "TRIAGE_TELEGRAM_WEBHOOK_URL": URL, "TRIAGE_SMTP_ENABLED": "false"}
    env.pop("TRIAGE_TELEGRAM_WEBHOOK_SECRET", None)
    out = subprocess.run([sys.executable, "-m", "triage", "serve"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode != 0
    assert "TRIAGE_TELEGRAM_WEBHOOK_SECRET must be set too" in out.stderr and TOKEN not in out.stderr
