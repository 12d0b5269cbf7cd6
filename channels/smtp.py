"""SMTP in (aiosmtpd): the wijkteam mailbox's front door.

The message is parsed, stored and committed before the 250 reply; a message
over the size limit gets 552 (aiosmtpd's data_size_limit); a database that
stays unavailable gets 451 so the sending server tries again later.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from triage.intake import Intake
from triage.store import StoreUnavailable
from triage.workers import parse_and_classify

from .mime import parse_email

log = logging.getLogger("triage.smtp")

__all__ = ["IntakeHandler", "SmtpServer"]


class IntakeHandler:
    """aiosmtpd handler: one callback per accepted message."""

    def __init__(self, intake: Intake, workers: int = 4, pool=None):
        self.intake = intake
        self.pool = pool
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="smtp-intake")

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options):
        if not address or "@" not in address:
            return "550 5.1.3 Ongeldig adres (invalid address)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        mail_from = envelope.mail_from

        loop = asyncio.get_running_loop()
        msg, result = None, None
        if self.pool is not None:  # parse and triage in a worker process (the other core)
            try:
                msg, result = await loop.run_in_executor(self.pool, parse_and_classify, raw, mail_from)
            except Exception as exc:  # a worker that fails must not cost the mail: do it here
                log.error("worker failed (%s); parsing in the receiver", type(exc).__name__)
                msg, result = None, None

        def store():
            m = msg if msg is not None else parse_email(raw, envelope_from=mail_from)  # never raises
            return self.intake.store_email(m, source="smtp")

        try:
            rec, duplicate = await loop.run_in_executor(self.executor, store)
        except StoreUnavailable:
            log.error("store unavailable: message refused with 451, the sender will retry")
            return "451 4.3.0 Tijdelijk probleem, probeer het later opnieuw (temporary failure, try again later)"
        except Exception as exc:  # not stored: the sender must keep the mail and retry
            log.error("message could not be stored (%s): refused with 451", type(exc).__name__)
            return "451 4.3.0 Tijdelijk probleem, probeer het later opnieuw (temporary failure, try again later)"
        # committed: from here on the mail is safe and the answer is 250
        if result is not None:
            result.id = str(rec.id)
        try:
            result = await loop.run_in_executor(self.executor, self.intake.after_store, rec, duplicate, result)
        except Exception as exc:  # stored but not triaged: resume() picks it up
            log.error("message %s stored, triage deferred (%s)", rec.id, type(exc).__name__)
            return "250 2.0.0 Bericht ontvangen (message accepted)"
        ref = f" {result.case_number}" if result.case_number else ""
        return f"250 2.0.0 Bericht ontvangen{ref} (message accepted)"


class SmtpServer:
    """Owns the aiosmtpd controller: explicit start and stop."""

    def __init__(self, intake: Intake, host: str = "127.0.0.1", port: int = 8025,
                 max_message_bytes: int = 25 * 1024 * 1024, pool=None):
        self.handler = IntakeHandler(intake, pool=pool)
        self.controller = Controller(self.handler, hostname=host, port=port, data_size_limit=max_message_bytes,
                                     decode_data=False, timeout=60)

    def start(self) -> None:
        self.controller.start()
        log.info("SMTP listening on %s:%s", self.controller.hostname, self.controller.port)

    def stop(self) -> None:
        self.controller.stop()
        self.handler.executor.shutdown(wait=True)
