"""`triage serve`: the HTTP API on embedded defaults (127.0.0.1:8000).

The API is described by FastAPI's OpenAPI document at /openapi.json.

Web chat (when the app runs inside `triage serve`, i.e. with a Service):

- ``/chat/widget.js``: the widget, one script tag for the municipality's site;
- ``/chat``: a demo page that embeds it;
- ``/chat/ws``: the WebSocket. The client sends ``{"type": "message", "text":
  "..."}`` (optionally ``"id"``: the same id sent twice is handled once). The
  server sends ``{"type": "session", "session": TOKEN, "resumed": bool}``
  first, then, for a resumed conversation, ``{"type": "history", "messages":
  [{"role": "inwoner"|"assistent"|"medewerker", "text": ...}]}``, and after
  that the replies as ``{"type": "message", "text": ...}``, each turn closed by
  ``{"type": "done", "case": NUMBER|null}``. A new conversation opens with
  the greeting (privacy notice). To resume after a reload or a server
  restart, connect with ``/chat/ws?session=TOKEN``; an unknown token starts a
  new conversation with a new token. ``?lang=en`` asks for English.

  An answer that a KCC agent writes for the case of a web chat
  (Store.send_answer) is pushed to the session's open socket(s) between
  turns as ``{"type": "message", "text": ..., "from": "medewerker"}`` (the
  text opens with a line saying a staff member wrote it); when no socket of
  the session is open it waits and is pushed right after the history when
  the resident comes back. It is marked sent and joins the history (role
  "medewerker") only after the push succeeded (``AnswerPusher``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, HTMLResponse
from starlette.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from ..config import get_settings
from ..pipeline import Message, Triage

log = logging.getLogger("triage.web")

MAX_TEXT = 1_000_000
STATIC_DIR = Path(__file__).resolve().parent / "static"
SESSION_RX = re.compile(r"[A-Za-z0-9_-]{16,64}")
WS_MAX_BYTES = 256 * 1024  # a chat frame; the engine refuses long messages with a clear reply
ANSWER_LOOK_SECONDS = 2.0  # the pusher looks for KCC answers this often (and at once when one is written here)
PUSH_TIMEOUT = 10.0

DEMO_PAGE = """<!doctype html>
<html lang="nl"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Chat met het Sociaal Wijkteam</title></head>
<body>
<main>
<h1>Chat met het Sociaal Wijkteam</h1>
<p>Dit is een voorbeeldpagina. Op de website van de gemeente staat de chat met deze ene regel:</p>
<pre>&lt;script src="/chat/widget.js" defer&gt;&lt;/script&gt;</pre>
</main>
<script src="/chat/widget.js" data-open="true" defer></script>
</body></html>
"""


class ClassifyRequest(BaseModel):
    text: str = Field(..., description="The message text", max_length=MAX_TEXT)
    channel: str = Field("email", description="email, chat, phone or partner")
    subject: str | None = Field(None, description="Mail subject")
    id: str | None = None


class ClassifyResponse(BaseModel):
    id: str | None
    category: str
    domains: list[str]
    confidence: float
    fields: dict
    consent: str
    route: str | None
    answer_id: str | None
    reasons: list[str]
    priority: str | None = None
    destination: str | None = None
    wijk: str | None = None
    answer_text: str | None = None
    evidence: dict = {}


def create_app(model_dir: Path | str | None = None, triage: Triage | None = None, service=None) -> FastAPI:
    """The HTTP app. ``triage``/``service``: an already started product
    (`triage serve`); without them the models are loaded at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.triage = service.live_triage if hasattr(service, "live_triage") else (triage or Triage(model_dir))
        app.state.service = service
        app.state.chat = getattr(service, "chat", None)
        pusher = AnswerPusher(app.state.chat).start() if app.state.chat is not None else None
        app.state.chat_answers = pusher
        log.info("models loaded in %.2f s", app.state.triage.load_seconds)
        yield
        if pusher is not None:
            await pusher.stop()

    # no /docs or /redoc: FastAPI's pages load scripts and fonts from outside CDNs;
    # the API is described by /openapi.json
    app = FastAPI(title="KCC front-door triage", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Triage of questions to the Sociaal Wijkteam: category, domains, startformulier, answer, route.")

    store = getattr(service, "store", None)
    if store is not None:
        install_console(app, store, service.settings)
    else:
        @app.get("/", response_class=HTMLResponse, include_in_schema=False)
        def index() -> str:
            return ("<!doctype html><html lang='nl'><head><meta charset='utf-8'><title>KCC triage</title></head>"
                    "<body><h1>KCC triage-assistent</h1><p>De API wordt beschreven in "
                    "<a href='/openapi.json'>/openapi.json</a> (OpenAPI).</p></body></html>")

    @app.get("/api/health")
    def health(request: Request) -> dict:
        t: Triage = request.app.state.triage
        out = {"status": "ok", "model_load_seconds": round(t.load_seconds, 3)}
        svc = request.app.state.service
        if svc is not None and svc.store is not None:
            db_ok = svc.store.ping()
            out["database"] = "ok" if db_ok else "unavailable"
            out["smtp"] = f"{svc.settings.smtp_host}:{svc.settings.smtp_port}" if svc.smtp else "off"
            out["imap"] = "on" if svc.imap else "off"
            out["outbound"] = "on" if svc.outbound else "off (outbox only)"
            out["chat"] = "on" if getattr(svc, "chat", None) else "off"
            out["telegram"] = "on" if getattr(svc, "telegram", None) else "off"
            if not db_ok:
                out["status"] = "degraded"
        return out

    @app.post("/api/classify", response_model=ClassifyResponse)
    def classify(req: ClassifyRequest, request: Request) -> ClassifyResponse:
        if not req.text.strip() and not (req.subject or "").strip():
            raise HTTPException(status_code=422, detail="Lege tekst: er is niets om te beoordelen.")
        t: Triage = request.app.state.triage
        res = t.classify_many([Message(req.text, req.channel, req.subject, req.id)])[0]
        answer_text = None
        if res.answer_id and t.kennisbank is not None:
            from ..kennisbank import detect_language

            answer_text = t.kennisbank.render(res.answer_id, detect_language(req.text))
        data = res.contract()
        return ClassifyResponse(**data, priority=res.priority, destination=res.destination, wijk=res.wijk,
                                answer_text=answer_text, evidence=res.evidence)

    @app.get("/chat/widget.js", include_in_schema=False)
    def chat_widget() -> FileResponse:
        return FileResponse(STATIC_DIR / "chat.js", media_type="text/javascript; charset=utf-8",
                            headers={"Cache-Control": "no-cache"})

    @app.get("/chat", response_class=HTMLResponse, include_in_schema=False)
    def chat_page() -> str:
        return DEMO_PAGE

    @app.websocket("/chat/ws")
    async def chat_ws(ws: WebSocket) -> None:
        chat = ws.app.state.chat
        if chat is None:
            await ws.close(code=1013, reason="chat is niet beschikbaar")
            return
        await ws.accept()
        try:
            await _chat_session(ws, chat, getattr(ws.app.state, "chat_answers", None))
        except WebSocketDisconnect:
            return

    from channels.telegram import webhook_router  # POST /telegram/webhook: Telegram in webhook mode

    app.include_router(webhook_router)
    return app


class _Socket:
    """One open web chat socket. ``lock``: held while a turn is answered, so
    a pushed answer comes between turns, never inside one."""

    __slots__ = ("ws", "lock")

    def __init__(self, ws: WebSocket):
        self.ws = ws
        self.lock = asyncio.Lock()

    async def push(self, text: str) -> bool:
        async with self.lock:
            try:
                await asyncio.wait_for(self.ws.send_json({"type": "message", "text": text, "from": "medewerker"}),
                                       PUSH_TIMEOUT)
                return True
            except Exception:  # closed, gone or stuck: the answer stays pending
                return False


class AnswerPusher:
    """Delivers the KCC's answers to the web chat sessions connected to this
    process: one task in the server's event loop looks every
    ANSWER_LOOK_SECONDS (and at once when Store.send_answer wrote a web chat
    answer, or a session connected) for pending answers of the connected
    sessions, pushes each to the session's sockets and, once a push
    succeeded, marks it delivered (ChatService.answer_delivered: sent, and in
    the history). Pushed but not marked (the store was down): marked later
    without a second push."""

    def __init__(self, chat, interval: float = ANSWER_LOOK_SECONDS):
        self.chat = chat
        self.interval = interval
        self.sockets: dict[str, set[_Socket]] = {}
        self._pushed: dict[int, object] = {}  # pushed, not marked yet
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> "AnswerPusher":
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self.chat.store.on_chat_answer(self._written)
        self._task = asyncio.create_task(self._run(), name="webchat-answers")
        return self

    async def stop(self) -> None:
        self.chat.store.off_chat_answer(self._written)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _written(self, kanaal: str, external_id: str) -> None:  # any thread
        if kanaal == "webchat" and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    def register(self, sid: str, sock: _Socket) -> None:
        self.sockets.setdefault(sid, set()).add(sock)
        self._wake.set()  # answers that waited for this session

    def unregister(self, sid: str, sock: _Socket) -> None:
        socks = self.sockets.get(sid)
        if socks is not None:
            socks.discard(sock)
            if not socks:
                del self.sockets[sid]

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            try:
                await self.deliver()
            except Exception as exc:  # the store is down: the answers stay pending
                log.error("web chat answers not delivered (%s); tried again", type(exc).__name__)

    async def deliver(self) -> int:
        """One look: push what waits for the connected sessions. Returns the
        number delivered."""
        if not self.sockets:
            return 0
        sids = list(self.sockets)
        answers = await run_in_threadpool(self.chat.pending_answers, "webchat", sids)
        waiting, asked = {a.id for a in answers}, set(sids)
        for gone in [i for i, a in self._pushed.items() if i not in waiting and a.external_id in asked]:
            del self._pushed[gone]  # marked meanwhile
        done = 0
        for a in answers:
            if a.id not in self._pushed:
                shown = False
                for sock in list(self.sockets.get(a.external_id, ())):
                    shown = await sock.push(a.text) or shown
                if not shown:
                    continue
                self._pushed[a.id] = a
            await run_in_threadpool(self.chat.answer_delivered, a)
            del self._pushed[a.id]
            done += 1
        return done


async def _chat_session(ws: WebSocket, chat, pusher: AnswerPusher | None = None) -> None:
    asked = ws.query_params.get("session") or ""
    lang = ws.query_params.get("lang")
    opened = None
    if SESSION_RX.fullmatch(asked):
        opened = await run_in_threadpool(chat.resume, "webchat", asked)
    sid = asked if opened is not None else secrets.token_urlsafe(24)
    if opened is None:
        opened = await run_in_threadpool(chat.open, "webchat", sid, lang)
    await ws.send_json({"type": "session", "session": sid, "resumed": opened.resumed})
    if opened.resumed:
        await ws.send_json({"type": "history", "messages": [{"role": r, "text": t} for r, t in opened.history]})
    for text in opened.replies:
        await ws.send_json({"type": "message", "text": text})
    await ws.send_json({"type": "done", "case": opened.case_number})
    sock = _Socket(ws)
    if pusher is not None:
        pusher.register(sid, sock)  # after the history: answers that waited come next
    try:
        await _chat_turns(ws, chat, sid, sock)
    finally:
        if pusher is not None:
            pusher.unregister(sid, sock)


async def _chat_turns(ws: WebSocket, chat, sid: str, sock: _Socket) -> None:
    while True:
        frame = await ws.receive()
        if frame["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(frame.get("code", 1000))
        async with sock.lock:  # a pushed answer waits until this turn is answered
            await _chat_turn(ws, chat, sid, frame)


async def _chat_turn(ws: WebSocket, chat, sid: str, frame: dict) -> None:
    raw = frame.get("text")
    if raw is None:
        raw = (frame.get("bytes") or b"").decode("utf-8", "replace")
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("type") != "message" or not isinstance(data.get("text"), str):
        await ws.send_json({"type": "error", "text": 'Stuur een bericht als {"type": "message", "text": "..."}.'})
        await ws.send_json({"type": "done", "case": None})
        return
    key = data.get("id") if isinstance(data.get("id"), str) and 0 < len(data["id"]) <= 100 else None
    try:
        out = await run_in_threadpool(chat.handle, "webchat", sid, data["text"], key=key)
    except Exception as exc:  # the resident is told; crisis numbers always
        log.error("web chat message failed (%s)", type(exc).__name__)
        await ws.send_json({"type": "message", "text": chat.error_text()})
        await ws.send_json({"type": "done", "case": None})
        return
    for text in out.replies:
        await ws.send_json({"type": "message", "text": text})
    await ws.send_json({"type": "done", "case": out.case_number})


def install_console(app: FastAPI, store, settings) -> None:
    """The console (login, KCC, bureaudienst, beheer) and its static files."""
    from fastapi.responses import RedirectResponse
    from fastapi.staticfiles import StaticFiles

    from . import beheer, bureaudienst, console, kcc
    from .auth import Auth

    auth = Auth(store, session_hours=settings.console_session_hours, idle_minutes=settings.console_idle_minutes,
                secure_cookie=settings.console_secure_cookie)
    console.install(app, auth)
    for module in (kcc, bureaudienst, beheer):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/console", status_code=303)


class RedactQuery(logging.Filter):
    """uvicorn logs each WebSocket connection with its path and query string
    ('"WebSocket /chat/ws?session=TOKEN" [accepted]'): a chat's session token
    must not reach the log (it would let a reader resume the chat)."""

    _rx = re.compile(r"\?[^\s\"']*")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(self._rx.sub("?…", a) if isinstance(a, str) and "?" in a else a for a in record.args)
        if isinstance(record.msg, str) and "?" in record.msg and "WebSocket" in record.msg:
            record.msg = self._rx.sub("?…", record.msg)
        return True


def run(host: str | None = None, port: int | None = None, model_dir: str | None = None, settings=None) -> int:
    """`triage serve`: the store, SMTP in, IMAP and outbound mail (when
    configured), and the HTTP API, until SIGINT/SIGTERM."""
    import uvicorn

    from ..service import Service

    import signal

    settings = settings or get_settings()
    logging.getLogger("uvicorn.error").addFilter(RedactQuery())
    # uvicorn re-raises a captured SIGTERM after its own shutdown; with the
    # default handler that would end the process before service.stop() and
    # leave the worker processes behind. A handler of ours lets it return.
    signal.signal(signal.SIGTERM, lambda *_: log.info("SIGTERM: stopping"))
    service = Service(settings, model_dir=model_dir).start()
    try:
        app = create_app(triage=service.triage, service=service)
        uvicorn.run(app, host=host or settings.http_host, port=port or settings.http_port, log_level="info",
                    access_log=False, ws_max_size=WS_MAX_BYTES)  # access logs could carry identifiers in query strings
    finally:
        service.stop()
    return 0
