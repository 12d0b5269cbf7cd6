"""Outbound mail: sends the outbox through the configured SMTP relay.

Replies carry the case number in the subject, In-Reply-To/References, and
``Auto-Submitted: auto-replied`` (RFC 3834) so that other systems never
answer them. Crisis replies go first. A relay that is down is retried with
backoff; nothing is lost, the outbox keeps the reply.
"""

from __future__ import annotations

import logging
import smtplib
import threading
from email.message import EmailMessage
from email.utils import formatdate

from triage.store import OutboundRecord, Store

log = logging.getLogger("triage.outbound")

__all__ = ["OutboundSender", "build_message"]


def build_message(o: OutboundRecord, sender: str, sender_name: str) -> EmailMessage:
    m = EmailMessage()
    m["From"] = f"{sender_name} <{sender}>"
    m["To"] = o.to
    m["Subject"] = o.subject
    m["Date"] = formatdate(localtime=True)
    m["Message-ID"] = f"<{o.message_id}>"
    if o.in_reply_to:
        m["In-Reply-To"] = f"<{o.in_reply_to}>"
    refs = [r for r in (o.references or []) if r]
    if refs:
        m["References"] = " ".join(f"<{r}>" for r in refs)
    m["Auto-Submitted"] = "auto-replied"
    m["X-Auto-Response-Suppress"] = "All"
    m.set_content(o.body, charset="utf-8")
    return m


class OutboundSender:
    def __init__(self, store: Store, relay: str, sender: str, sender_name: str = "Sociaal Wijkteam",
                 interval: float = 2.0, user: str | None = None, password: str | None = None, starttls: bool = False):
        host, sep, port = relay.rpartition(":")
        if not sep:
            host, port = relay, "25"
        self.host, self.port = host, int(port)
        self.user, self.password, self.starttls = user, password, starttls
        self.store, self.sender, self.sender_name = store, sender, sender_name
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def send_pending(self) -> int:
        """Send what is in the outbox now. Returns the number sent."""
        pending = self.store.outbox()
        if not pending:
            return 0
        sent = 0
        try:
            with smtplib.SMTP(self.host, self.port, timeout=30) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password or "")
                for o in pending:
                    try:
                        smtp.send_message(build_message(o, self.sender, self.sender_name))
                        self.store.mark_sent(o.id, True)
                        sent += 1
                    except smtplib.SMTPException as exc:
                        self.store.mark_sent(o.id, False, type(exc).__name__)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("relay %s:%s unreachable (%s); outbox kept", self.host, self.port, type(exc).__name__)
        return sent

    def run(self) -> None:
        delay = self.interval
        while not self._stop.is_set():
            try:
                self.send_pending()
                delay = self.interval
            except Exception as exc:  # no traceback: it could hold addresses
                log.error("outbound round failed (%s)", type(exc).__name__)
                delay = min(delay * 2, 60)
            self._stop.wait(delay)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="outbound", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
