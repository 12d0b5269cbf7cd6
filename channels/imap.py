"""IMAP mailbox (imapclient): the wijkteam mailbox on a mail server.

Each round: fetch messages with a UID above the last one processed (per
UIDVALIDITY), store and triage each (the store commits first), then flag it
\\Seen (or move it to the processed folder). The last UID is saved after
every message, so a crash repeats at most the one message in hand, and the
Message-ID (or content hash) makes that repeat a no-op. New mail is awaited
with IDLE when the server has it, otherwise by polling. Connection errors
reconnect with exponential backoff.
"""

from __future__ import annotations

import logging
import socket
import threading

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from triage.intake import Intake
from triage.store import Store, StoreUnavailable

from .mime import parse_email

log = logging.getLogger("triage.imap")

__all__ = ["ImapPoller"]

SEEN = b"\\Seen"


class ImapPoller:
    def __init__(self, intake: Intake, store: Store, host: str, port: int, user: str, password: str,
                 folder: str = "INBOX", processed_folder: str | None = None, ssl: bool = True,
                 poll_seconds: float = 60.0, idle_seconds: float = 300.0):
        self.intake, self.store = intake, store
        self.host, self.port, self.user, self.password = host, port, user, password
        self.folder, self.processed_folder, self.ssl = folder, processed_folder, ssl
        self.poll_seconds, self.idle_seconds = poll_seconds, idle_seconds
        self.account = f"{user}@{host}:{port}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.client: IMAPClient | None = None
        self.rounds = 0

    # ------------------------------------------------------------ connection
    def connect(self) -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=self.ssl, timeout=30)
        client.login(self.user, self.password)
        if self.processed_folder and not client.folder_exists(self.processed_folder):
            client.create_folder(self.processed_folder)
        return client

    def _close(self) -> None:
        if self.client is not None:
            try:
                self.client.logout()
            except Exception:  # the connection may already be gone
                pass
            self.client = None

    # ----------------------------------------------------------------- work
    def process_new(self) -> int:
        """One round over the folder. Returns how many messages were handled."""
        client = self.client
        info = client.select_folder(self.folder)
        uidvalidity = int(info[b"UIDVALIDITY"])
        state = self.store.imap_state(self.account, self.folder)
        last_uid = state.last_uid
        if state.uidvalidity != uidvalidity:
            if state.uidvalidity:
                log.warning("UIDVALIDITY changed for %s: rescanning (Message-IDs prevent duplicates)", self.folder)
            last_uid = 0
            self.store.save_imap_state(self.account, self.folder, uidvalidity, 0)
        uids = sorted(u for u in client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid)
        handled = 0
        for uid in uids:
            data = client.fetch([uid], ["BODY.PEEK[]"]).get(uid)
            if not data:
                continue
            raw = data.get(b"BODY[]") or b""
            msg = parse_email(raw)
            self.intake.receive_email(msg, source="imap")  # committed before we flag it
            if self.processed_folder:
                if client.has_capability("MOVE"):
                    client.move([uid], self.processed_folder)
                else:
                    client.copy([uid], self.processed_folder)
                    client.delete_messages([uid])
                    client.expunge()
            else:
                client.add_flags([uid], [SEEN])
            self.store.save_imap_state(self.account, self.folder, uidvalidity, uid)
            handled += 1
        self.rounds += 1
        return handled

    def _wait_for_mail(self) -> None:
        client = self.client
        if client.has_capability("IDLE"):
            client.idle()
            try:
                client.idle_check(timeout=min(self.idle_seconds, self.poll_seconds * 5))
            finally:
                client.idle_done()
        else:
            self._stop.wait(self.poll_seconds)

    def run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                if self.client is None:
                    self.client = self.connect()
                    log.info("IMAP connected to %s:%s", self.host, self.port)
                    backoff = 1.0
                self.process_new()
                if self._stop.is_set():
                    break
                self._wait_for_mail()
            except (IMAPClientError, OSError, socket.error, EOFError, StoreUnavailable) as exc:
                log.warning("IMAP round failed (%s); reconnecting in %.0f s", type(exc).__name__, backoff)
                self._close()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 60.0)
            except Exception as exc:  # no traceback: it could hold message data
                log.error("IMAP round failed (%s); reconnecting in %.0f s", type(exc).__name__, backoff)
                self._close()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 60.0)
        self._close()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="imap", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        client = self.client
        if client is not None:
            try:  # wake a pending IDLE
                client.socket().shutdown(socket.SHUT_RDWR)
            except Exception:
                pass
        if self._thread:
            self._thread.join(timeout=15)
