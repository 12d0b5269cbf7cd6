"""Telegram (python-telegram-bot, long polling): a thin adapter from Bot API
updates to the chat entry point (channels.chat.ChatService).

    bot = TelegramBot(chat, token)               # base_url: another Bot API endpoint
    bot.start()                                  # own thread and event loop
    bot.stop()

Off when no token is set (TRIAGE_TELEGRAM_TOKEN). Only private chats are
served; a group chat gets nothing. Each text message is stored before it is
handled, idempotent on the update id (a redelivered update is answered once).
The window between getUpdates and the store is the only one in which a crash
can lose a message: python-telegram-bot confirms an update to Telegram with
the next getUpdates. "/start" greets, "/stop" and "/opnieuw" are the
conversation's stop and opnieuw. Log lines hold no chat ids or text.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from .chat import ChatService

log = logging.getLogger("triage.telegram")

__all__ = ["TelegramBot", "KANAAL"]

KANAAL = "telegram"
COMMANDS = {"stop": "stop", "opnieuw": "opnieuw", "restart": "opnieuw"}
ONLY_TEXT = {
    "nl": "Ik kan alleen tekstberichten lezen. Typ uw vraag in een paar zinnen. Is er direct gevaar? Bel 112.",
    "en": "I can only read text messages. Please type your question in a few sentences. Is someone in danger? Call 112.",
}


class TelegramBot:
    def __init__(self, chat: ChatService, token: str, *, base_url: str | None = None, poll_timeout: float = 10.0):
        if not token:
            raise ValueError("a Telegram bot token is needed")
        self.chat = chat
        self.token = token
        self.base_url = base_url
        self.poll_timeout = poll_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def build(self) -> Application:
        builder = Application.builder().token(self.token).get_updates_read_timeout(self.poll_timeout + 5)
        if self.base_url:
            builder = builder.base_url(self.base_url)
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
            await app.updater.start_polling(poll_interval=0.0, timeout=int(self.poll_timeout),
                                            allowed_updates=["message"], error_callback=self._poll_error)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            log.error("Telegram bot not started (%s)", type(exc).__name__)
            return
        log.info("Telegram bot polling")
        self._ready.set()
        await self._stopping.wait()
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        log.info("Telegram bot stopped")

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
        if opened.resumed:  # remind where the conversation was
            last = [t for r, t in opened.history if r == "assistent"][-1:]
            await self._send(update, context, last)
        else:
            await self._send(update, context, opened.replies)

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        word = (update.effective_message.text or "").lstrip("/").split("@")[0].split()[0].lower()
        await self._handle(update, context, COMMANDS.get(word, word))

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
