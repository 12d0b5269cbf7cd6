"""The web chat end to end: `triage serve`'s app (Service + FastAPI) in a real
uvicorn on a loopback port, the `websockets` client as the browser. Greeting,
a standard answer, the startformulier to a case number, a crisis in the third
message, a server restart in the middle of a conversation, and a KCC agent's
answer from the console pushed into the open chat or shown when the resident
comes back."""

import json
import re
import threading
import time
import urllib.request

import httpx
import pytest
import uvicorn
from sqlmodel import select
from websockets.sync.client import connect

from channels.chat import answer_text
from servers import free_port
from triage.config import Settings
from triage.conversation import TEXTS
from triage.service import Service
from triage.store import Case, Event, InboundRecord, OutboundRecord
from triage.web.app import WS_MAX_BYTES, create_app
from triage.web.auth import hash_password

NL = TEXTS["nl"]
SUPPORT = "Ik heb schulden en mijn zoon gaat niet meer naar school en ik ben zelf depressief. Ik wil graag hulp."
CRISIS = "ik zie het niet meer zitten, ik wil er een eind aan maken"


class Server:
    """`triage serve` in this process: Service on a SQLite file, uvicorn on a free port."""

    def __init__(self, data_dir, triage):
        self.settings = Settings(data_dir=data_dir, smtp_enabled=False, workers=0)
        self.triage = triage

    def start(self):
        self.service = Service(self.settings).start(triage=self.triage)
        self.port = free_port()
        self.app = create_app(triage=self.triage, service=self.service)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                ws_max_size=WS_MAX_BYTES)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def stop(self):
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.service.stop()

    @property
    def ws_url(self):
        return f"ws://127.0.0.1:{self.port}/chat/ws"

    def get(self, path):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
            return r.status, r.headers.get("content-type"), r.read().decode("utf-8")


@pytest.fixture
def server(tmp_path, triage):
    srv = Server(tmp_path / "data", triage).start()
    yield srv
    srv.stop()


def turn(ws):
    """Frames until the turn's "done": (frames, replies)."""
    frames = []
    while True:
        frame = json.loads(ws.recv(timeout=20))
        frames.append(frame)
        if frame["type"] == "done":
            return frames, [f["text"] for f in frames if f["type"] == "message"]


def say(ws, text):
    ws.send(json.dumps({"type": "message", "text": text}))
    return turn(ws)


def cases(server):
    with server.service.store.session() as s:
        return list(s.exec(select(Case).order_by(Case.id)).all())


def test_greeting_and_an_info_question_answered_at_once(server, triage):
    with connect(server.ws_url) as ws:
        frames, replies = turn(ws)
        assert frames[0]["type"] == "session" and frames[0]["resumed"] is False and len(frames[0]["session"]) >= 16
        assert len(replies) == 1 and "Privacy" in replies[0] and "112" in replies[0]
        frames, replies = say(ws, "Hoe vraag ik huishoudelijke hulp aan?")
        assert replies == [triage.kennisbank.render("kb-wmo-huishoudelijke-hulp", "nl"), NL["answered_q"]]
        assert all(f == {"type": "message", "text": f["text"]} for f in frames if f["type"] == "message")
        assert say(ws, "ja")[1] == [NL["answered_yes"]]
    assert cases(server) == []


def test_support_need_through_the_form_to_a_case_number(server):
    with connect(server.ws_url) as ws:
        turn(ws)
        assert say(ws, SUPPORT)[1] == [NL["form_intro_support"], NL["q_naam"]]
        assert say(ws, "Jan de Vries")[1] == [NL["q_contact"]]
        assert say(ws, "06-1234")[1] == [NL["err_phone"] + "\n\n" + NL["q_contact"]]  # asked again
        for answer in ["0612345678", "1781 AB 12", "ja", "ja"]:
            say(ws, answer)
        summary = say(ws, "middag")[1][0]
        assert "1. Naam: Jan de Vries" in summary and "2. Telefoon: 0612345678" in summary
        frames, replies = say(ws, "ja")
    [case] = cases(server)
    assert frames[-1] == {"type": "done", "case": case.number}
    assert f"Uw zaaknummer is {case.number}." in replies[0] and "{case}" not in replies[0]
    assert (case.kanaal, case.category, case.route) == ("chat", "meervoudig", "bureaudienst")
    shown = server.service.store.show_case(case.number, actor="test")
    assert shown["startformulier"]["fields"]["naam"] == "Jan de Vries"
    assert [m["inhoud"] for m in shown["messages"]][:2] == [SUPPORT, "Jan de Vries"]


def test_crisis_in_the_third_message_gets_the_numbers_at_once_and_a_crisis_case(server, triage):
    with connect(server.ws_url) as ws:
        turn(ws)
        say(ws, SUPPORT)
        say(ws, "Jan de Vries")
        t0 = time.monotonic()
        frames, replies = say(ws, CRISIS)
        elapsed = time.monotonic() - t0
    assert replies[0] == triage.kennisbank.render("kb-crisis", "nl")
    assert "112" in replies[0] and "113" in replies[0]
    [case] = cases(server)
    assert (case.category, case.route, case.priority) == ("crisis", "crisis", "spoed")
    assert case.number in replies[1] and frames[-1]["case"] == case.number
    assert elapsed < 5


def test_a_server_restart_in_the_middle_of_the_form_resumes_the_conversation(server):
    with connect(server.ws_url) as ws:
        frames, _ = turn(ws)
        session = frames[0]["session"]
        say(ws, SUPPORT)
        assert say(ws, "Jan de Vries")[1] == [NL["q_contact"]]
    server.stop()
    server.start()  # a new process state: new Service, new store engine, same database, new port
    with connect(f"{server.ws_url}?session={session}") as ws:
        frames, replies = turn(ws)
        assert frames[0] == {"type": "session", "session": session, "resumed": True}
        history = frames[1]["messages"]
        assert frames[1]["type"] == "history" and history[-1] == {"role": "assistent", "text": NL["q_contact"]}
        assert {"role": "inwoner", "text": "Jan de Vries"} in history
        assert replies == []  # no second greeting
        assert say(ws, "0612345678")[1] == [NL["q_adres"]]
    # an unknown token starts a new conversation with a new token
    with connect(f"{server.ws_url}?session={'x' * 32}") as ws:
        frames, replies = turn(ws)
        assert frames[0]["resumed"] is False and frames[0]["session"] != "x" * 32 and "Privacy" in replies[0]


def test_bad_frames_get_a_clear_reply_and_the_conversation_goes_on(server):
    with connect(server.ws_url) as ws:
        turn(ws)
        ws.send("geen json")
        frames, _ = turn(ws)
        assert frames[0]["type"] == "error" and '"type": "message"' in frames[0]["text"]
        ws.send(json.dumps({"type": "message", "text": "x" * 5000}))
        assert "te lang (5000 tekens)" in turn(ws)[1][0]
        # the same client id twice: handled once
        ws.send(json.dumps({"type": "message", "text": SUPPORT, "id": "m-1"}))
        assert turn(ws)[1][-1] == NL["q_naam"]
        ws.send(json.dumps({"type": "message", "text": SUPPORT, "id": "m-1"}))
        assert turn(ws)[1] == []
    with server.service.store.session() as s:
        assert len(s.exec(select(InboundRecord).where(InboundRecord.inhoud == SUPPORT)).all()) == 1


def test_widget_and_demo_page_are_served_without_outside_files(server):
    status, ctype, js = server.get("/chat/widget.js")
    assert status == 200 and "javascript" in ctype
    assert "/chat/ws" in js and "Verstuur" in js and "Uw bericht" in js and "sessionStorage" in js
    assert "http://" not in js and "https://" not in js.split("*/", 1)[1]  # no CDN
    status, ctype, page = server.get("/chat")
    assert status == 200 and 'src="/chat/widget.js"' in page and 'lang="nl"' in page
    assert server.get("/api/health")[2].count('"chat":"on"') == 1


# an information question the chat cannot answer, the offer of a call back accepted and the
# startformulier: a case in the KCC's queue
INFO_TO_CASE = ["Hoe vraag ik een paspoort aan?", "nee", "ja", "Piet Jansen", "piet@example.nl", "1785 XK 4", "ja",
                "nee", "ja"]
KCC_PASSWORD = "kcc-wachtwoord-123"


def kcc_agent(server) -> httpx.Client:
    """A KCC agent logged in to the console of the running server (over HTTP)."""
    server.service.store.add_user("kcc", "kcc", hash_password(KCC_PASSWORD), display_name="Test kcc")
    agent = httpx.Client(base_url=f"http://127.0.0.1:{server.port}", follow_redirects=False, timeout=10)
    agent.get("/login")
    r = agent.post("/login", data={"username": "kcc", "password": KCC_PASSWORD,
                                   "csrf": agent.cookies.get("triage_login_csrf", path="/login") or ""})
    assert r.status_code == 303, r.text
    agent.csrf = re.search(r'name="csrf" value="([^"]+)"', agent.get("/console", follow_redirects=True).text).group(1)
    return agent


def answer_row(server, body) -> OutboundRecord:
    with server.service.store.session() as s:
        return s.exec(select(OutboundRecord).where(OutboundRecord.body == body)).one()


def wait_status(server, body, status, timeout=10.0) -> OutboundRecord:
    deadline = time.monotonic() + timeout
    while (row := answer_row(server, body)).status != status:
        assert time.monotonic() < deadline, f"answer still {row.status}"
        time.sleep(0.02)
    return row


def test_a_kcc_answer_reaches_the_open_chat_and_else_the_resident_coming_back(server):
    first = "U kunt een paspoort aanvragen bij de balie in het stadhuis. Maak eerst een afspraak."
    second = "Aanvulling: neem een pasfoto mee die niet ouder is dan zes maanden."
    with connect(server.ws_url) as ws:
        frames, _ = turn(ws)
        session = frames[0]["session"]
        for text in INFO_TO_CASE:
            frames, _ = say(ws, text)
        number = frames[-1]["case"]
        assert number and cases(server)[0].queue == "kcc"
        # the agent answers in the console (the form's POST): pushed into the open chat at once
        agent = kcc_agent(server)
        page = agent.get(f"/kcc/zaak/{number}").text
        assert "Antwoord in de chat zetten" in page and "in de webchat van de inwoner" in page
        t0 = time.monotonic()
        r = agent.post(f"/kcc/zaak/{number}/antwoord", data={"csrf": agent.csrf, "body": first})
        assert r.status_code == 303 and "gedaan=in_chat" in r.headers["location"]
        pushed = json.loads(ws.recv(timeout=10))
        assert time.monotonic() - t0 < 1.5  # not only at the pusher's next look
        assert pushed == {"type": "message", "text": answer_text(first), "from": "medewerker"}
        assert pushed["text"].startswith("Bericht van een medewerker van het Sociaal Wijkteam:\n\n")
        assert pushed["text"].endswith(first)
        row = wait_status(server, first, "sent")
        assert row.attempts == 1 and row.sent_at is not None
        # the conversation goes on as before
        frames, _ = say(ws, "Dank u wel")
        assert frames[-1]["type"] == "done"
    # the resident has gone: the next answer waits for them
    server.service.store.send_answer(number, "kcc", body=second)
    time.sleep(2.5)  # longer than the pusher's look interval
    assert answer_row(server, second).status == "pending"
    assert "Nog niet aangekomen: wacht tot de inwoner de chat opent" in agent.get(f"/kcc/zaak/{number}").text
    with connect(f"{server.ws_url}?session={session}") as ws:
        frames, _ = turn(ws)
        assert frames[0]["resumed"] is True
        history = frames[1]["messages"]
        assert {"role": "medewerker", "text": answer_text(first)} in history
        assert history.index({"role": "medewerker", "text": answer_text(first)}) < \
            history.index({"role": "inwoner", "text": "Dank u wel"})
        pushed = json.loads(ws.recv(timeout=10))  # right after the history
        assert pushed == {"type": "message", "text": answer_text(second), "from": "medewerker"}
    wait_status(server, second, "sent")
    # once delivered, an answer is part of the history and never pushed again
    with connect(f"{server.ws_url}?session={session}") as ws:
        frames, _ = turn(ws)
        said = [m["text"] for m in frames[1]["messages"] if m["role"] == "medewerker"]
        assert said == [answer_text(first), answer_text(second)]
        with pytest.raises(TimeoutError):
            ws.recv(timeout=2.5)
    page = agent.get(f"/kcc/zaak/{number}").text
    assert page.count("Aangekomen in de chat") == 2 and "Nog niet aangekomen" not in page
    with server.service.store.session() as s:
        sent = s.exec(select(Event).where(Event.action == "reply_sent")).all()
    assert len(sent) == 2 and "paspoort" not in json.dumps([e.detail for e in sent])
    agent.close()


def test_an_answer_written_while_the_server_is_down_is_shown_after_the_restart(server):
    with connect(server.ws_url) as ws:
        frames, _ = turn(ws)
        session = frames[0]["session"]
        for text in INFO_TO_CASE:
            frames, _ = say(ws, text)
        number = frames[-1]["case"]
        server.stop()  # the process goes; the resident's widget tries to reconnect
    from triage.store import Store

    store = Store(server.service.store.url)  # e.g. `triage` on the same database while the server is down
    store.send_answer(number, "kcc", body="Ons antwoord op uw vraag.")
    store.engine.dispose()
    server.start()
    with connect(f"{server.ws_url}?session={session}") as ws:
        turn(ws)
        assert json.loads(ws.recv(timeout=10)) == {"type": "message", "text": answer_text("Ons antwoord op uw vraag."),
                                                   "from": "medewerker"}
    wait_status(server, "Ons antwoord op uw vraag.", "sent")


def test_the_widget_shows_a_staff_members_answer_labelled_also_when_the_chat_was_closed(server, chromium):
    """The widget in headless Chromium (locators only: the page's CSP forbids eval)."""
    page = chromium.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"http://127.0.0.1:{server.port}/chat")
    page.locator(".swt-chat-msg.assistent").first.wait_for(timeout=15000)
    [session] = [sid for sid in server.app.state.chat_answers.sockets]
    for text in INFO_TO_CASE:  # the conversation up to a case (typed elsewhere: here only the answer matters)
        out = server.service.chat.handle("webchat", session, text)
    page.keyboard.press("Escape")  # the chat is closed; its connection stays
    body = "U kunt een paspoort aanvragen bij de balie in het stadhuis."
    server.service.store.send_answer(out.case_number, "kcc", body=body)
    toggle = page.get_by_role("button", name="Chat met het wijkteam: nieuw bericht")
    toggle.wait_for(timeout=10000)
    toggle.click()
    msg = page.locator(".swt-chat-msg.medewerker")
    assert msg.count() == 1
    text = msg.inner_text()
    assert text.startswith("Medewerker wijkteam") and answer_text(body).split("\n")[0] in text and body in text
    # a reload shows it in the history, labelled the same way
    page.reload()
    page.locator(".swt-chat-msg.medewerker").wait_for(timeout=15000)
    assert "Medewerker wijkteam" in page.locator(".swt-chat-msg.medewerker").inner_text()
    assert errors == []
    page.close()
