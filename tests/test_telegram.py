"""Telegram through python-telegram-bot against a Bot API endpoint on loopback
(its base_url): a small fake Bot API in a real uvicorn serves getMe,
deleteWebhook and getUpdates (long polling, real Update JSON) and records
sendMessage. The bot runs on the real ChatService and store. A KCC agent's
answer (Store.send_answer) reaches the chat through sendMessage; a failed
send is tried again."""

import asyncio
import json
import threading
import time
import urllib.parse

import pytest
import uvicorn
from sqlmodel import select
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from channels.chat import ChatService, answer_text
from channels.telegram import ONLY_TEXT, TelegramBot, split_text
from servers import free_port
from triage.conversation import TEXTS
from triage.store import Case, Event, OutboundRecord

NL = TEXTS["nl"]
TOKEN = "123456:TEST-token"
SUPPORT = "Ik heb schulden en mijn zoon gaat niet meer naar school en ik ben zelf depressief. Ik wil graag hulp."
CRISIS = "ik zie het niet meer zitten, ik wil er een eind aan maken"


class FakeBotApi:
    """The Bot API methods the bot uses, on 127.0.0.1:<free port>."""

    def __init__(self):
        self.updates: list[dict] = []
        self.again: list[dict] = []  # served once more whatever the offset (a redelivery)
        self.sent: list[dict] = []
        self.send_errors: list[int] = []  # HTTP status of the next sendMessage calls that fail
        self.refused: list[dict] = []  # sendMessage calls that failed
        self.calls: list[str] = []
        self.webhook: dict | None = None  # the parameters of setWebhook
        self.next_id = 1000
        self.lock = threading.Lock()
        app = Starlette(routes=[Route("/bot{token}/{method}", self.endpoint, methods=["POST", "GET"])])
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}/bot"

    def start(self):
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        return self

    def stop(self):
        self.server.should_exit = True
        self.thread.join(timeout=10)

    async def endpoint(self, request):
        token, method = request.path_params["token"], request.path_params["method"]
        if token != TOKEN:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401)
        body = await request.body()
        if (request.headers.get("content-type") or "").startswith("application/json"):
            params = json.loads(body or b"{}")
        else:  # python-telegram-bot posts url-encoded form data
            params = dict(urllib.parse.parse_qsl(body.decode("utf-8")))
        self.calls.append(method)
        if method == "getMe":
            return ok({"id": 777, "is_bot": True, "first_name": "Sociaal Wijkteam", "username": "wijkteam_test_bot",
                       "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False})
        if method in ("deleteWebhook", "setMyCommands"):
            return ok(True)
        if method == "setWebhook":
            self.webhook = params
            return ok(True)
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            deadline = time.monotonic() + min(float(params.get("timeout") or 0), 2.0)
            while True:
                with self.lock:
                    batch = self.again + [u for u in self.updates if u["update_id"] >= offset]
                    self.again = []
                if batch or time.monotonic() >= deadline:
                    return ok(batch)
                await asyncio.sleep(0.02)
        if method == "sendMessage":
            with self.lock:
                if self.send_errors:
                    code = self.send_errors.pop(0)
                    self.refused.append({"chat_id": int(params["chat_id"]), "text": params["text"], "code": code})
                    return JSONResponse({"ok": False, "error_code": code, "description": "Forbidden: bot was blocked "
                                         "by the user" if code == 403 else "Internal Server Error"}, status_code=code)
                self.sent.append({"chat_id": int(params["chat_id"]), "text": params["text"]})
                n = len(self.sent)
            return ok({"message_id": 5000 + n, "date": int(time.time()), "text": params["text"],
                       "chat": {"id": int(params["chat_id"]), "type": "private"},
                       "from": {"id": 777, "is_bot": True, "first_name": "Sociaal Wijkteam"}})
        return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, status_code=404)

    def push(self, text=None, *, chat_id=4242, chat_type="private", update_id=None, language="nl", photo=False):
        """Queue one real Update (a message) for getUpdates; returns its update_id."""
        with self.lock:
            if update_id is None:
                self.next_id += 1
                update_id = self.next_id
            update = update_json(text, chat_id=chat_id, chat_type=chat_type, update_id=update_id, language=language,
                                 photo=photo)
            if any(u["update_id"] == update_id for u in self.updates):
                self.again.append(update)
            else:
                self.updates.append(update)
        return update_id

    def replies(self, chat_id=4242, after=0, count=1, timeout=20):
        """Wait for ``count`` sendMessage calls to chat_id after the first ``after``; return their texts."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                texts = [m["text"] for m in self.sent if m["chat_id"] == chat_id]
            if len(texts) >= after + count:
                return texts[after:]
            time.sleep(0.02)
        raise AssertionError(f"expected {count} replies after {after}, got {texts[after:]}")


def update_json(text=None, *, chat_id=4242, chat_type="private", update_id=1001, language="nl", photo=False) -> dict:
    """One Update as the Bot API sends it: a message in a chat."""
    msg = {"message_id": update_id, "date": int(time.time()),
           "chat": {"id": chat_id, "type": chat_type, "first_name": "Jan"} if chat_type == "private"
           else {"id": chat_id, "type": chat_type, "title": "Buurtgroep"},
           "from": {"id": chat_id if chat_type == "private" else 99, "is_bot": False, "first_name": "Jan",
                    "language_code": language}}
    if photo:
        msg["photo"] = [{"file_id": "AgAD", "file_unique_id": "AQAD", "width": 90, "height": 90}]
    else:
        msg["text"] = text
        if text.startswith("/"):
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id, "message": msg}


def ok(result):
    return JSONResponse({"ok": True, "result": result})


@pytest.fixture
def api():
    fake = FakeBotApi().start()
    yield fake
    fake.stop()


def start_bot(store, triage, api):
    return TelegramBot(ChatService(store, triage), TOKEN, base_url=api.base_url, poll_timeout=1).start()


class Talk:
    def __init__(self, api, chat_id=4242):
        self.api, self.chat_id, self.seen = api, chat_id, 0

    def say(self, text, count):
        self.api.push(text, chat_id=self.chat_id)
        out = self.api.replies(self.chat_id, after=self.seen, count=count)
        self.seen += len(out)
        return out


def test_greeting_answer_and_crisis_in_the_third_message(store, triage, api):
    bot = start_bot(store, triage, api)
    try:
        talk = Talk(api)
        [greeting] = talk.say("/start", 1)
        assert api.calls[:2] == ["getMe", "deleteWebhook"] and "getUpdates" in api.calls
        assert "Privacy" in greeting and "112" in greeting
        answer = talk.say("Hoe vraag ik huishoudelijke hulp aan?", 2)
        assert answer == [triage.kennisbank.render("kb-wmo-huishoudelijke-hulp", "nl"), NL["answered_q"]]
        talk.say("ja", 1)
        assert talk.say(SUPPORT, 2) == [NL["form_intro_support"], NL["q_naam"]]
        assert talk.say("Jan de Vries", 1) == [NL["q_contact"]]
        crisis = talk.say(CRISIS, 2)
        assert "112" in crisis[0] and "113" in crisis[0]
        with store.session() as s:
            [case] = s.exec(select(Case)).all()
        assert (case.category, case.route, case.priority, case.kanaal) == ("crisis", "crisis", "spoed", "chat")
        assert case.number in crisis[1] and crisis[1].endswith(NL["q_contact"])
    finally:
        bot.stop()


def test_a_redelivered_update_is_answered_once_and_a_restart_resumes(store, triage, api):
    bot = start_bot(store, triage, api)
    talk = Talk(api)
    try:
        # the first message without /start: the greeting comes first
        uid = api.push(SUPPORT)
        first = api.replies(after=0, count=3)
        assert "Privacy" in first[0] and first[1:] == [NL["form_intro_support"], NL["q_naam"]]
        talk.seen = 3
        api.push(SUPPORT, update_id=uid)  # Telegram sends the same update again
        while api.again:
            time.sleep(0.02)
        assert talk.say("Jan de Vries", 1) == [NL["q_contact"]]  # and nothing for the repeat
    finally:
        bot.stop()
    # a new process on the same database; getUpdates from offset 0 hands it every
    # earlier update again (none was confirmed): all are answered already
    bot = start_bot(store, triage, api)
    try:
        assert talk.say("0612345678", 1) == [NL["q_adres"]]
        time.sleep(0.3)
        assert len(api.sent) == talk.seen
    finally:
        bot.stop()


def test_only_private_text_chats_are_served(store, triage, api):
    bot = start_bot(store, triage, api)
    try:
        api.push("Hallo allemaal, wie weet iets over schulden?", chat_id=-100, chat_type="group")
        api.push(chat_id=4242, photo=True)
        assert api.replies(4242, count=1) == [ONLY_TEXT["nl"]]
        time.sleep(0.3)
        assert not [m for m in api.sent if m["chat_id"] == -100]
        assert store.conversation("telegram", "-100") is None
    finally:
        bot.stop()


def test_a_wrong_token_is_refused_at_start(store, triage, api):
    with pytest.raises(RuntimeError, match="could not start"):
        TelegramBot(ChatService(store, triage), "999:wrong", base_url=api.base_url, poll_timeout=1).start()


def test_triage_serve_starts_the_bot_only_with_a_token(tmp_path, triage, api):
    from triage.config import Settings
    from triage.service import Service

    off = Service(Settings(data_dir=tmp_path / "off", smtp_enabled=False, workers=0)).start(triage=triage)
    try:
        assert off.telegram is None and off.chat is not None
    finally:
        off.stop()
    svc = Service(Settings(data_dir=tmp_path / "on", smtp_enabled=False, workers=0, telegram_token=TOKEN,
                           telegram_api_url=api.base_url, telegram_poll_seconds=1)).start(triage=triage)
    try:
        assert svc.telegram is not None
        api.push("/start", chat_id=55)
        assert "Privacy" in api.replies(55, count=1)[0]
        assert svc.store.conversation("telegram", "55") is not None
    finally:
        svc.stop()


INFO_TO_CASE = ["Hoe vraag ik een paspoort aan?", "nee", "ja", "Piet Jansen", "piet@example.nl", "1785 XK 4", "ja",
                "nee", "ja"]


def chat_case(chat, chat_id: str) -> str:
    """A case made in a Telegram conversation (through the chat service): its number."""
    for text in INFO_TO_CASE:
        out = chat.handle("telegram", chat_id, text)
    assert out.case_number
    return out.case_number


def answer_row(store, body) -> OutboundRecord:
    with store.session() as s:
        return s.exec(select(OutboundRecord).where(OutboundRecord.body == body)).one()


def wait_row(store, body, status, timeout=15.0) -> OutboundRecord:
    deadline = time.monotonic() + timeout
    while (row := answer_row(store, body)).status != status:
        assert time.monotonic() < deadline, f"answer still {row.status} after {row.attempts} tries"
        time.sleep(0.02)
    return row


def test_a_kcc_answer_is_sent_to_the_chat_and_a_failed_send_is_tried_again(store, triage, api):
    bot = TelegramBot(ChatService(store, triage), TOKEN, base_url=api.base_url, poll_timeout=1,
                      answer_interval=0.2).start()
    try:
        number = chat_case(bot.chat, "4242")
        first = "U kunt een paspoort aanvragen bij de balie in het stadhuis."
        t0 = time.monotonic()
        store.send_answer(number, "kcc", body=first)
        [text] = api.replies(4242, count=1)
        assert time.monotonic() - t0 < 1.5
        assert text == answer_text(first) and text.startswith("Bericht van een medewerker van het Sociaal Wijkteam:\n\n")
        row = wait_row(store, first, "sent")
        assert (row.kanaal, row.to, row.attempts) == ("telegram", "4242", 1)
        # in the conversation's history: /start (a resumed conversation) reminds of it
        assert store.conversation("telegram", "4242").state["transcript"][-1] == ["medewerker", text]
        api.push("/start")
        assert api.replies(4242, after=1, count=1) == [text]
        # Telegram fails twice (server errors): the answer is tried again and arrives once
        second = "Aanvulling: neem een pasfoto mee."
        api.send_errors = [500, 502]
        store.send_answer(number, "kcc", body=second)
        assert api.replies(4242, after=2, count=1) == [answer_text(second)]
        row = wait_row(store, second, "sent")
        assert row.attempts == 3 and [r["code"] for r in api.refused] == [500, 502]
        time.sleep(1.0)
        assert [m["text"] for m in api.sent].count(answer_text(second)) == 1
        with store.session() as s:
            events = s.exec(select(Event).where(Event.action.in_(("reply_sent", "reply_failed")))).all()
        assert sorted(e.action for e in events) == ["reply_failed", "reply_failed", "reply_sent", "reply_sent"]
        assert "paspoort" not in json.dumps([e.detail for e in events])
    finally:
        bot.stop()


def test_an_answer_is_given_up_after_its_tries_or_when_the_chat_refuses_it_and_waits_while_the_bot_is_off(
        store, triage, api):
    chat = ChatService(store, triage)
    number = chat_case(chat, "4242")
    # written while no bot runs: kept, and sent when the bot starts
    store.send_answer(number, "kcc", body="Antwoord terwijl de bot uit stond.")
    bot = TelegramBot(chat, TOKEN, base_url=api.base_url, poll_timeout=1, answer_interval=0.1,
                      answer_attempts=3).start()
    try:
        assert api.replies(4242, count=1) == [answer_text("Antwoord terwijl de bot uit stond.")]
        wait_row(store, "Antwoord terwijl de bot uit stond.", "sent")
        # Telegram keeps failing: given up after answer_attempts tries, then left alone
        api.send_errors = [500] * 10
        store.send_answer(number, "kcc", body="Dit antwoord komt niet aan.")
        row = wait_row(store, "Dit antwoord komt niet aan.", "failed")
        assert row.attempts == 3 and row.last_error == "NetworkError"
        time.sleep(1.0)
        assert len(api.refused) == 3
        # the resident blocked the bot (403): given up at once
        api.send_errors = [403]
        store.send_answer(number, "kcc", body="Geblokkeerd.")
        row = wait_row(store, "Geblokkeerd.", "failed")
        assert row.attempts == 1 and row.last_error == "Forbidden"
    finally:
        bot.stop()


def test_a_long_answer_goes_in_parts_under_telegrams_limit():
    text = answer_text(("Een lange zin over de regeling. " * 40 + "\n\n") * 8)
    parts = split_text(text)
    assert len(parts) == 3 and all(len(p) <= 4000 for p in parts)
    assert "".join(parts).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(" ", "")
