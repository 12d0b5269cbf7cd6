"""The IMAP mailbox against a real Dovecot on loopback (tests/servers.py):
new mail is stored and triaged once, flagged or moved, UIDVALIDITY is
tracked, and the poller reconnects after the connection is gone."""

import socket
import time
from email.message import EmailMessage

import pytest
from imapclient import IMAPClient

from channels.imap import ImapPoller
from servers import append_message, dovecot_server  # noqa: F401  (fixture)
from triage.intake import Intake


def raw_mail(i: int, body: str | None = None, msgid: bool = True) -> bytes:
    m = EmailMessage()
    m["From"] = f"Inwoner {i} <inwoner{i}@example.org>"
    m["To"] = "wijkteam@denhelder.nl"
    m["Subject"] = f"Vraag {i}"
    if msgid:
        m["Message-ID"] = f"<imap-{i}@example.org>"
    m.set_content(body or f"Goedendag, ik zoek hulp bij het huishouden ({i}), ik kan niet meer goed lopen.")
    return m.as_bytes()


def poller(info, store, triage, **kw) -> ImapPoller:
    return ImapPoller(Intake(store, triage), store, info.host, info.port, info.user, info.password, ssl=False,
                      poll_seconds=0.2, idle_seconds=0.5, **kw)


def client(info) -> IMAPClient:
    c = IMAPClient(info.host, port=info.port, ssl=False)
    c.login(info.user, info.password)
    return c


def test_new_mail_is_stored_once_and_flagged_seen(dovecot_server, store, triage):
    for i in range(3):
        append_message(dovecot_server, raw_mail(i))
    append_message(dovecot_server, raw_mail(3, msgid=False))  # no Message-ID: content hash
    p = poller(dovecot_server, store, triage)
    p.client = p.connect()
    assert p.process_new() == 4
    assert p.process_new() == 0  # nothing twice
    append_message(dovecot_server, raw_mail(4))
    assert p.process_new() == 1
    p._close()
    msgs = store.list_messages()
    assert len(msgs) == 5 and all(m["case_number"] for m in msgs)
    assert msgs[0]["channel_message_id"] == "imap-0@example.org"
    c = client(dovecot_server)
    c.select_folder("INBOX")
    flags = c.get_flags(c.search("ALL"))
    assert all(b"\\Seen" in f for f in flags.values())
    c.logout()


def test_processed_mail_is_moved_when_configured(dovecot_server, store, triage):
    for i in range(2):
        append_message(dovecot_server, raw_mail(i))
    p = poller(dovecot_server, store, triage, processed_folder="Verwerkt")
    p.client = p.connect()
    assert p.process_new() == 2
    p._close()
    c = client(dovecot_server)
    assert c.select_folder("INBOX")[b"EXISTS"] == 0
    assert c.select_folder("Verwerkt")[b"EXISTS"] == 2
    c.logout()
    assert len(store.list_messages()) == 2


def test_uidvalidity_change_rescans_without_duplicates(dovecot_server, store, triage):
    for i in range(2):
        append_message(dovecot_server, raw_mail(i))
    p = poller(dovecot_server, store, triage)
    p.client = p.connect()
    assert p.process_new() == 2
    state = store.imap_state(p.account, "INBOX")
    # the server renumbered the folder: a different UIDVALIDITY than the one we saved
    store.save_imap_state(p.account, "INBOX", state.uidvalidity + 1, state.last_uid)
    append_message(dovecot_server, raw_mail(2))
    p.process_new()  # rescans all three
    p._close()
    assert len(store.list_messages()) == 3  # the two old ones are not stored again
    assert store.imap_state(p.account, "INBOX").uidvalidity == state.uidvalidity


def test_running_poller_picks_up_mail_and_reconnects_after_connection_loss(dovecot_server, store, triage):
    p = poller(dovecot_server, store, triage)
    p.start()
    try:
        append_message(dovecot_server, raw_mail(0))
        deadline = time.monotonic() + 15
        while len(store.list_messages()) < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(store.list_messages()) == 1
        # the connection goes away under the poller (as when the server restarts)
        rounds = p.rounds
        p.client.socket().shutdown(socket.SHUT_RDWR)
        append_message(dovecot_server, raw_mail(1))
        deadline = time.monotonic() + 20
        # the round counter moves after the message is committed: wait for both
        while (len(store.list_messages()) < 2 or p.rounds <= rounds) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(store.list_messages()) == 2
        assert p.rounds > rounds
    finally:
        p.stop()
    assert len({m["channel_message_id"] for m in store.list_messages()}) == 2


def test_wrong_password_backs_off_without_crashing(dovecot_server, store, triage):
    p = ImapPoller(Intake(store, triage), store, dovecot_server.host, dovecot_server.port, dovecot_server.user,
                   "verkeerd", ssl=False, poll_seconds=0.2)
    p.start()
    time.sleep(1.5)
    alive = p._thread.is_alive()
    p.stop()
    assert alive and p.rounds == 0 and store.list_messages() == []
