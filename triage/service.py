"""The running product behind `triage serve`: store, triage, and every
channel, started and stopped as one.

    Service(settings).start()   migrate the store, load the models, triage
                                what an earlier run left untriaged, then
                                start SMTP in, IMAP (when configured), the
                                outbound sender (when a relay is configured),
                                a resume loop and the daily retention run
                                and the chat service (web chat, Telegram)
    Service.stop()              stop them in reverse order

Nothing here needs configuration: on embedded defaults the store is the
SQLite file triage-data/triage.db and SMTP listens on 127.0.0.1:8025.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from .config import Settings, get_settings
from .intake import Intake
from .pipeline import Triage
from .store import Store, StoreUnavailable

log = logging.getLogger("triage.service")

__all__ = ["Service"]


class Service:
    def __init__(self, settings: Settings | None = None, model_dir=None, resume_seconds: float = 60.0):
        self.settings = settings or get_settings()
        self.model_dir = model_dir
        self.resume_seconds = resume_seconds
        self.store: Store | None = None
        self.triage: Triage | None = None
        self.intake: Intake | None = None
        self.smtp = None
        self.imap = None
        self.outbound = None
        self.pool = None
        self.chat = None
        self.telegram = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------
    def start(self, triage: Triage | None = None) -> "Service":
        st = self.settings
        self.store = Store(st.database_url())
        self.store.migrate()
        self.triage = triage or Triage(self.model_dir)
        self.intake = Intake(self.store, self.triage, reply_rate_limit_per_hour=st.reply_rate_limit_per_hour)
        if st.chat_enabled:
            from channels.chat import ChatService

            self.chat = ChatService(self.store, self.triage, max_chars=st.chat_max_chars, rate_limit=st.chat_rate_limit,
                                    rate_window=st.chat_rate_window)
        resumed = self.intake.resume()
        if resumed:
            log.info("triaged %d stored messages left from an earlier run", resumed)
        if st.smtp_enabled:
            from channels.smtp import SmtpServer

            if st.workers > 0:
                from .workers import start_pool

                self.pool = start_pool(st.workers, self.model_dir)
            self.smtp = SmtpServer(self.intake, host=st.smtp_host, port=st.smtp_port, max_message_bytes=st.smtp_max_bytes,
                                   pool=self.pool)
            self.smtp.start()
        if st.outbound_smtp:
            from channels.outbound import OutboundSender

            self.outbound = OutboundSender(self.store, st.outbound_smtp, st.reply_sender(self.triage.municipality),
                                           st.outbound_from_name, user=st.outbound_user or None,
                                           password=st.outbound_password or None, starttls=st.outbound_starttls)
            self.outbound.start()
        else:
            log.info("no outbound relay configured (TRIAGE_OUTBOUND_SMTP): replies wait in the outbox")
        if st.imap_host:
            from channels.imap import ImapPoller

            self.imap = ImapPoller(self.intake, self.store, st.imap_host, st.imap_port, st.imap_user, st.imap_password,
                                   folder=st.imap_folder, processed_folder=st.imap_processed_folder or None,
                                   ssl=st.imap_ssl, poll_seconds=st.imap_poll_seconds)
            self.imap.start()
        if st.telegram_token:
            from channels.chat import ChatService
            from channels.telegram import TelegramBot

            chat = self.chat or ChatService(self.store, self.triage, max_chars=st.chat_max_chars,
                                            rate_limit=st.chat_rate_limit, rate_window=st.chat_rate_window)
            self.telegram = TelegramBot(chat, st.telegram_token, base_url=st.telegram_api_url or None,
                                        poll_timeout=st.telegram_poll_seconds)
            self.telegram.start()
        else:
            log.info("no Telegram token (TRIAGE_TELEGRAM_TOKEN): Telegram off")
        if not self.store.list_users():
            log.info("no console accounts yet: create one with `triage users add NAME --role beheer`")
        self._spawn("resume", self._resume_loop)
        self._spawn("retention", self._retention_loop)
        return self

    def stop(self) -> None:
        self._stop.set()
        for part in (self.telegram, self.imap, self.smtp, self.outbound):
            if part is not None:
                try:
                    part.stop()
                except Exception:  # keep stopping the others
                    log.error("stopping %s failed", type(part).__name__)
        for t in self._threads:
            t.join(timeout=10)
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        if self.store is not None:
            self.store.engine.dispose()

    # ------------------------------------------------------------------
    def _spawn(self, name: str, target) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def _resume_loop(self) -> None:
        while not self._stop.wait(self.resume_seconds):
            try:
                self.intake.resume()
            except StoreUnavailable:
                log.warning("store unavailable; resume retried in %.0f s", self.resume_seconds)
            except Exception as exc:
                log.error("resume round failed (%s)", type(exc).__name__)

    def run_retention(self) -> int:
        st = self.settings
        n = self.store.run_retention(st.retention_days, st.retention_mode)
        log.info("retention: %d closed cases %s", n, "deleted" if st.retention_mode == "delete" else "anonymised")
        return n

    def _retention_loop(self) -> None:
        """Once a day at retention_hour, and once shortly after start."""
        if self._stop.wait(30):
            return
        while True:
            try:
                self.run_retention()
            except Exception as exc:
                log.error("retention run failed (%s); tried again at the next run", type(exc).__name__)
            now = datetime.now()
            nxt = now.replace(hour=self.settings.retention_hour, minute=0, second=0, microsecond=0)
            if nxt <= now:
                nxt += timedelta(days=1)
            if self._stop.wait((nxt - now).total_seconds()):
                return
