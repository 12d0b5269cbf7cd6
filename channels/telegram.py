"""Telegram (python-telegram-bot): a thin adapter from Bot API updates to the
chat entry point (channels.chat.ChatService), by long polling (the default)
or by webhook.

    bot = TelegramBot(chat, token)               # base_url: another Bot API endpoint
    bot.start()                                  # own thread and event loop
    bot.stop()

Off when no token is set (TRIAGE_TELEGRAM_TOKEN). Only private chats are
served; a group chat gets nothing. Each text message is stored before it is
handled, idempotent on the update id (a redelivered update is answered once).
"/start" greets, "/stop" and "/opnieuw" are the conversation's stop and
opnieuw. Log lines hold no chat ids or text.

Long polling: the window between getUpdates and the store is the only one in
which a crash can lose a message: python-telegram-bot confirms an update to
Telegram with the next getUpdates.

Webhook (``webhook_url``, TRIAGE_TELEGRAM_WEBHOOK_URL, with
``webhook_secret``): at start the bot calls setWebhook (the secret token,
only message updates); Telegram then posts every update to POST
/telegram/webhook of `triage serve` (``webhook_router``, python-telegram-bot's
"custom webhook" pattern). The endpoint refuses a request without the secret
token in X-Telegram-Bot-Api-Secret-Token (403, compared in constant time),
stores the message (503 when the store is down, so Telegram tries again),
hands the update to the same Application and answers 200 at once; the reply
follows. A message stored but not handled (a crash after the 200) is handled
before the next message of that chat.

Answers of KCC agents (Store.send_answer on a chat case from Telegram) are
sent by the running bot, in polling and webhook mode alike: a task in the
bot's event loop looks every ``answer_interval`` seconds (and at once when an
answer is written in this process), sends each with sendMessage (the text
opens with a line saying a staff member wrote it; longer than Telegram's
4,096 characters: in parts) and marks it sent, and adds it to the
conversation's history, only after Telegram accepted it. A failed send is
tried again later (waits doubling up to 5 minutes) and counted; after
``answer_attempts`` tries, or at once when Telegram refuses the chat (the
resident blocked the bot: 403, or 400), the answer is "failed" and the KCC
sees so on the case page.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import threading
import time

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from telegram import Update
from telegram.constants import MessageEntityType
from telegram.error import BadRequest, Forbidden, RetryAfter
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from triage.config import Settings

from .chat import ChatAnswer, ChatService

log = logging.getLogger("triage.telegram")

__all__ = ["TelegramBot", "KANAAL", "SECRET_HEADER", "message_text", "webhook_router"]

KANAAL = "telegram"
COMMANDS = {"stop": "stop", "opnieuw": "opnieuw", "restart": "opnieuw"}
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 1024 * 1024
MAX_MESSAGE_CHARS = 4000  # Telegram takes 4,096 characters per message
MAX_RETRY_SECONDS = 300.0
ONLY_TEXT = {
    "nl": "Ik kan alleen tekstberichten lezen. Typ uw vraag in een paar zinnen. Is er direct gevaar? Bel 112.",
    "en": "I can only read text messages. Please type your question in a few sentences. Is someone in danger? Call 112.",
}


class TelegramBot:
    def __init__(self, chat: ChatService, token: str, *, base_url: str | None = None, poll_timeout: float = 10.0,
                 webhook_url: str | None = None, webhook_secret: str | None = None, answer_interval: float = 2.0,
                 answer_attempts: int | None = None):
        if not token:
            raise ValueError("a Telegram bot token is needed")
        Settings.check_telegram_webhook(webhook_url, webhook_secret)
        self.chat = chat
        self.token = token
        self.base_url = base_url
        self.poll_timeout = poll_timeout
        self.webhook_url = webhook_url or None
        self.webhook_secret = webhook_secret or None
        self.application: Application | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.answer_interval = answer_interval
        self.answer_attempts = answer_attempts  # None: the store's CHAT_ANSWER_ATTEMPTS
        self._wake: asyncio.Event | None = None
        self._retry_at: dict[int, float] = {}  # answer id -> monotonic time of its next try
        self._parts_sent: dict[int, int] = {}  # answer id -> parts Telegram has (a long answer failed half-way)
        self._sent_unmarked: set[int] = set()  # sent, not yet marked (the store was down)

    def build(self) -> Application:
        builder = Application.builder().token(self.token).get_updates_read_timeout(self.poll_timeout + 5)
        if self.base_url:
            builder = builder.base_url(self.base_url)
        if self.webhook_url:  # updates come in through webhook_router, not from an Updater
            builder = builder.updater(None)
        app = builder.build()
        private = filters.ChatType.PRIVATE
        app.add_handler(CommandHandler("start", self._on_start, filters=private))
        app.add_handler(CommandHandler(list(COMMANDS), self._on_command, filters=private))
        app.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND, self._on_text))
        app.add_handler(MessageHandler(private & ~filters.TEXT, self._on_other))
        return app

    # ------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 30.0) -> "TelegramBot":
        self._thread = threading.Thread(target=self._run, name="telegram", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the Telegram bot did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the Telegram bot could not start ({type(self._error).__name__})") from self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        app = self.build()
        try:
            await app.initialize()  # getMe: checks the token
            await app.start()
            if self.webhook_url:
                # updates not yet delivered stay with Telegram and come to the webhook
                await app.bot.set_webhook(self.webhook_url, secret_token=self.webhook_secret,
                                          allowed_updates=["message"])
            else:
                await app.updater.start_polling(poll_interval=0.0, timeout=int(self.poll_timeout),
                                                allowed_updates=["message"], error_callback=self._poll_error)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            log.error("Telegram bot not started (%s)", type(exc).__name__)
            return
        self.application = app
        self._wake = asyncio.Event()
        self.chat.store.on_chat_answer(self._answer_written)
        answers = asyncio.create_task(self._answers_loop(), name="telegram-answers")
        log.info("Telegram bot %s", "on webhook" if self.webhook_url else "polling")
        self._ready.set()
        await self._stopping.wait()
        self.chat.store.off_chat_answer(self._answer_written)
        answers.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await answers
        self.application = None
        if app.updater is not None:
            await app.updater.stop()
        await app.stop()
        await app.shutdown()
        log.info("Telegram bot stopped")

    # ------------------------------------------------------------ KCC answers
    def _answer_written(self, kanaal: str, external_id: str) -> None:  # any thread
        loop, wake = self._loop, self._wake
        if kanaal == KANAAL and loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    async def _answers_loop(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.answer_interval)
            self._wake.clear()
            try:
                await self.deliver_answers()
            except Exception as exc:  # the store is down: the answers stay pending
                log.error("Telegram answers not delivered (%s); tried again", type(exc).__name__)

    async def deliver_answers(self) -> int:
        """One look: send the KCC answers that wait (those whose next try is
        due). Returns the number delivered."""
        app = self.application
        if app is None:
            return 0
        answers = await asyncio.to_thread(self.chat.pending_answers, KANAAL)
        waiting = {a.id for a in answers}
        for known in (self._retry_at, self._parts_sent):
            for gone in [i for i in known if i not in waiting]:
                del known[gone]
        self._sent_unmarked &= waiting
        done = 0
        for a in answers:
            if a.id not in self._sent_unmarked:
                if self._retry_at.get(a.id, 0.0) > time.monotonic():
                    continue
                try:
                    await self._send_answer(app.bot, a)
                except Exception as exc:
                    await self._answer_not_sent(a, exc)
                    continue
                self._sent_unmarked.add(a.id)
            await asyncio.to_thread(self.chat.answer_delivered, a)  # raises: marked at the next look, not sent again
            self._sent_unmarked.discard(a.id)
            self._parts_sent.pop(a.id, None)
            self._retry_at.pop(a.id, None)
            done += 1
        return done

    async def _send_answer(self, bot, a: ChatAnswer) -> None:
        chat_id = int(a.external_id)
        parts = split_text(a.text)
        for i in range(self._parts_sent.get(a.id, 0), len(parts)):
            await bot.send_message(chat_id, parts[i])
            self._parts_sent[a.id] = i + 1

    async def _answer_not_sent(self, a: ChatAnswer, exc: Exception) -> None:
        if isinstance(exc, RetryAfter):  # flood control: not a failure, wait as asked
            wait = exc.retry_after
            self._retry_at[a.id] = time.monotonic() + float(getattr(wait, "total_seconds", lambda: wait)())
            log.warning("Telegram asks to wait before the next answer")
            return
        # the chat refuses it (blocked the bot, no such chat): trying again does not help
        final = isinstance(exc, (Forbidden, BadRequest, ValueError))
        status = await asyncio.to_thread(self.chat.answer_failed, a, type(exc).__name__, final=final,
                                         max_attempts=self.answer_attempts)
        self._retry_at[a.id] = time.monotonic() + min(self.answer_interval * 2 ** (a.attempts + 1), MAX_RETRY_SECONDS)
        log.warning("Telegram answer not delivered (%s, try %d): %s", type(exc).__name__, a.attempts + 1,
                    "given up, the KCC sees it failed" if status == "failed" else "tried again")

    @staticmethod
    def _poll_error(exc) -> None:
        log.warning("Telegram polling error (%s); retried", type(exc).__name__)

    # ------------------------------------------------------------ handlers
    @staticmethod
    def _language(update: Update) -> str | None:
        user = update.effective_user
        return user.language_code if user else None

    async def _send(self, update: Update, context: ContextTypes.DEFAULT_TYPE, replies: list[str]) -> None:
        for text in replies:
            await context.bot.send_message(update.effective_chat.id, text)

    async def _on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        cid = str(update.effective_chat.id)
        opened = await asyncio.to_thread(self.chat.open, KANAAL, cid, self._language(update))
        if opened.resumed:  # remind where the conversation was (the bot's or a staff member's last message)
            last = [t for r, t in opened.history if r != "inwoner"][-1:]
            await self._send(update, context, last)
        else:
            await self._send(update, context, opened.replies)

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._handle(update, context, message_text(update) or "")

    async def _on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._handle(update, context, update.effective_message.text or "")

    async def _on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        lang = "en" if (self._language(update) or "").startswith("en") else "nl"
        await self._send(update, context, [ONLY_TEXT[lang]])

    async def _handle(self, update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
        cid = str(update.effective_chat.id)
        try:
            out = await asyncio.to_thread(self.chat.handle, KANAAL, cid, text, key=f"update:{update.update_id}",
                                          language=self._language(update))
        except Exception as exc:  # the resident is told; crisis numbers always
            log.error("Telegram message failed (%s)", type(exc).__name__)
            await self._send(update, context, [self.chat.error_text()])
            return
        await self._send(update, context, out.replies)

    # ------------------------------------------------------------ webhook
    def secret_ok(self, given: str | None) -> bool:
        """The request's secret token equals ours (constant-time compare)."""
        if not self.webhook_secret:
            return False
        return hmac.compare_digest((given or "").encode("utf-8"), self.webhook_secret.encode("utf-8"))

    def store_first(self, update: Update) -> bool:
        """Store the message of a webhook update before it is acknowledged
        (the handler finds it by the same key). False: nothing to store, or
        stored already (a redelivery)."""
        text = message_text(update)
        if text is None:
            return False
        return self.chat.receive(KANAAL, str(update.effective_chat.id), text, key=f"update:{update.update_id}")

    async def enqueue(self, update: Update) -> None:
        """Hand an update to the Application (from another event loop)."""
        app, loop = self.application, self._loop
        if app is None or loop is None:
            raise RuntimeError("the Telegram bot is not running")
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(app.update_queue.put(update), loop))


def split_text(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """``text`` in parts of at most ``limit`` characters, cut at a blank
    line, a line end or a space where one is near."""
    parts = []
    while len(text) > limit:
        for sep in ("\n\n", "\n", " "):
            cut = text.rfind(sep, limit // 2, limit)
            if cut > 0:
                break
        else:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*parts, text] if text or not parts else parts


def message_text(update: Update) -> str | None:
    """The text the bot hands to the conversation for this update (the
    handlers above), or None when it hands none: not a private chat, not
    text, /start (a greeting, no message) or a command it does not know."""
    msg = update.effective_message
    chat = update.effective_chat
    if msg is None or chat is None or chat.type != "private" or not msg.text:
        return None
    first = msg.entities[0] if msg.entities else None
    if first is not None and first.type == MessageEntityType.BOT_COMMAND and first.offset == 0:
        word = msg.text[1:first.length].split("@")[0].lower()
        return COMMANDS.get(word)
    return msg.text


webhook_router = APIRouter()


@webhook_router.post("/telegram/webhook", include_in_schema=False)
async def telegram_webhook(request: Request) -> Response:
    """Telegram posts an Update here (webhook mode). 403 without the secret
    token, 200 once the message is stored; the reply follows."""
    bot = getattr(getattr(request.app.state, "service", None), "telegram", None)
    if bot is None or not bot.webhook_url:
        return Response(status_code=404)
    if not bot.secret_ok(request.headers.get(SECRET_HEADER)):
        log.warning("Telegram webhook: request without the right secret token refused")
        return Response(status_code=403)
    body = await request.body()
    if len(body) > MAX_UPDATE_BYTES:
        return Response(status_code=413)
    try:
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            raise ValueError("no update")
        update = Update.de_json(data, bot.application.bot if bot.application else None)
    except Exception as exc:
        log.warning("Telegram webhook: unreadable update (%s)", type(exc).__name__)
        return Response(status_code=400)
    try:
        await run_in_threadpool(bot.store_first, update)
        await bot.enqueue(update)
    except Exception as exc:  # not stored or not handed on: Telegram delivers it again
        log.error("Telegram webhook: update not accepted (%s); Telegram will retry", type(exc).__name__)
        return Response(status_code=503)
    return Response(status_code=200)
