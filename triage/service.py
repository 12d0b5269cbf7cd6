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
        # models: the registry's active version unless model_dir pins one (see activate_model)
        self.registry = None
        self.retrain = None
        self.model_version: str | None = None
        self.model_path = None
        self._model_lock = threading.Lock()
        self._seen_active: str | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------
    def start(self, triage: Triage | None = None) -> "Service":
        st = self.settings
        self.store = Store(st.database_url())
        self.store.migrate()
        self.triage = self._init_models(triage)
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

                self.pool = start_pool(st.workers, self.model_path)
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
                                        poll_timeout=st.telegram_poll_seconds,
                                        webhook_url=st.telegram_webhook_url or None,
                                        webhook_secret=st.telegram_webhook_secret or None)
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
        if self.retrain is not None:
            self.retrain.stop()
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        if self.store is not None:
            self.store.engine.dispose()

    # ------------------------------------------------------------------ models
    def _init_models(self, triage: Triage | None = None) -> Triage:
        """The model registry (TRIAGE_MODEL_VERSIONS_DIR) and the Triage to
        start with: ``triage`` when given (already loaded), else the folder
        given as model_dir (--models: pinned, the registry is not followed),
        else the registry's active version (the shipped models/ when none)."""
        from pathlib import Path

        from .model import ModelLoadError
        from .retrain import SHIPPED, ModelRegistry, RetrainJob

        st = self.settings
        self.registry = ModelRegistry(st.model_versions_path(), st.model_dir, store=self.store,
                                      min_crisis_recall=st.model_min_crisis_recall)
        self.retrain = RetrainJob(self.registry, st.training_data_dir, st.database_url(),
                                  municipality_file=st.municipality_file)
        self._seen_active, path = self.registry.active()
        if triage is not None:
            self.model_path = Path(triage.model_dir)
        elif self.model_dir:
            self.model_path = Path(self.model_dir)
            triage = Triage(self.model_path)
        else:
            try:
                triage = Triage(path)
            except ModelLoadError as exc:
                log.error("active model version %s cannot be loaded (%s); the shipped models are used",
                          self._seen_active, type(exc).__name__)
                path = st.model_dir
                triage = Triage(path)
            self.model_path = Path(path)
        self.model_version = self.registry.version_of(self.model_path) or ("pinned" if self.model_dir else "custom")
        log.info("model version %s", self.model_version if self.model_version != SHIPPED else "shipped (models/)")
        return triage

    @property
    def model_pinned(self) -> bool:
        return bool(self.model_dir)

    @property
    def live_triage(self) -> "LiveTriage":
        """Stands for the Triage in use now, also after a model swap (the web app holds this)."""
        return LiveTriage(self)

    def model_info(self) -> dict:
        """{"version", "path", "pinned", "retrain": RetrainJob.status()}."""
        return {"version": self.model_version, "path": str(self.model_path), "pinned": self.model_pinned,
                "retrain": self.retrain.status() if self.retrain else {"state": "idle"}}

    def activate_model(self, version: str, actor: str) -> dict:
        """Activate a model version (safety gate first) and use it everywhere
        at once. The new models are loaded before anything changes: when that
        fails, nothing changes. Raises retrain.ModelError subclasses
        (ModelPinned, UnknownVersion, ActivationRefused, ModelNotLoadable).
        Returns the version's info."""
        from .retrain import ModelPinned

        with self._model_lock:
            if self.model_pinned:
                raise ModelPinned()
            path = self.registry.check_activation(version)
            new = self._load_model(version, path)
            info = self.registry.activate(version, actor)
            self._use_model(new, version, path)
            return info

    def rollback_model(self, actor: str) -> dict:
        """Back to the previously active version (or the shipped models), in
        use everywhere at once. Raises ModelPinned, NothingToRollBack,
        ModelNotLoadable. Returns the info of the version now active."""
        from .retrain import ModelPinned

        with self._model_lock:
            if self.model_pinned:
                raise ModelPinned()
            version, path = self.registry.rollback_target()
            new = self._load_model(version, path)
            info = self.registry.rollback(actor)
            if info["version"] != version:  # changed meanwhile by another process
                version, path = info["version"], self.registry.path_of(info["version"])
                new = self._load_model(version, path)
            self._use_model(new, version, path)
            return info

    def follow_registry(self) -> bool:
        """Use the registry's active version when it changed outside this
        process (`triage model activate|rollback`). Returns True on a swap."""
        if self.registry is None or self.model_pinned:
            return False
        try:
            with self._model_lock:
                version, path = self.registry.active()
                if version == self._seen_active:
                    return False
                self._seen_active = version
                if version == self.model_version:
                    return False
                self._use_model(self._load_model(version, path), version, path)
                return True
        except Exception as exc:
            log.error("model version %s not taken into use (%s)", self._seen_active, type(exc).__name__)
            return False

    def _load_model(self, version: str, path) -> Triage:
        from .retrain import ModelNotLoadable

        try:
            return Triage(path, municipality=self.triage.municipality if self.triage else None)
        except Exception as exc:
            log.error("model version %s cannot be loaded (%s)", version, type(exc).__name__)
            raise ModelNotLoadable(version) from None

    def _use_model(self, new: Triage, version: str, path) -> None:
        """Swap the models everywhere they are used, then restart the worker pool."""
        from pathlib import Path

        self.triage = new
        if self.intake is not None:
            self.intake.triage = new
        for chat in {id(c): c for c in (self.chat, getattr(self.telegram, "chat", None)) if c is not None}.values():
            chat.engine.triage = new
            chat.engine.kennisbank = getattr(new, "kennisbank", None)
        self.model_version, self.model_path, self._seen_active = version, Path(path), version
        if self.pool is not None:
            from .workers import restart_pool

            self.pool = restart_pool(self.pool, self.settings.workers, self.model_path)
            if self.smtp is not None:
                self.smtp.handler.pool = self.pool
        log.info("model version %s in use", version)

    # ------------------------------------------------------------------
    def _spawn(self, name: str, target) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def _resume_loop(self) -> None:
        while not self._stop.wait(self.resume_seconds):
            self.follow_registry()
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
        convs, msgs = self.store.run_chat_retention(st.chat_retention_days)
        log.info("retention: %d chat conversations without a case (%d messages) deleted", convs, msgs)
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


class LiveTriage:
    """The service's current Triage, whichever version is active: every
    attribute is read from ``service.triage`` at the moment of use."""

    __slots__ = ("_service",)

    def __init__(self, service: Service):
        self._service = service

    def __getattr__(self, name: str):
        return getattr(self._service.triage, name)
