"""The e-mail channel end to end with real servers: mail in over SMTP
(aiosmtpd, the product's own receiver), replies out through an SMTP relay
(a second aiosmtpd on loopback that collects what it gets), the store on a
real SQLite file. No mocks."""

import glob
import os
import re
import smtplib
import sysconfig
import threading
import time
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy

SMTP_POLICY = default_policy.clone(linesep="\r\n")  # what a mail server sends: CRLF lines

import pytest
from aiosmtpd.controller import Controller

from servers import free_port, postgres_server  # noqa: F401  (fixture)
from triage.config import Settings
from triage.service import Service


class Sink:
    """The outbound relay: an aiosmtpd server that keeps every message."""

    def __init__(self):
        self.messages: list = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(message_from_bytes(envelope.original_content or envelope.content,
                                                    policy=default_policy))
        return "250 OK"

    def wait(self, n: int, timeout: float = 10.0) -> list:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if len(self.messages) >= n:
                    return list(self.messages)
            time.sleep(0.05)
        return list(self.messages)


@pytest.fixture
def relay():
    sink = Sink()
    ctl = Controller(sink, hostname="127.0.0.1", port=free_port())
    ctl.start()
    yield sink, ctl.port
    ctl.stop()


@pytest.fixture
def service(tmp_path, triage, relay):
    _, relay_port = relay
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'triage.db'}", smtp_port=free_port(), workers=0,
                        outbound_smtp=f"127.0.0.1:{relay_port}", smtp_max_bytes=2_000_000)
    svc = Service(settings).start(triage=triage)
    svc.outbound.interval = 0.1
    yield svc
    svc.stop()


def send(svc, raw: bytes, mail_from: str = "inwoner@example.org", rcpt: str = "wijkteam@denhelder.nl"):
    """One SMTP transaction; returns (code, reply text)."""
    with smtplib.SMTP(svc.settings.smtp_host, svc.settings.smtp_port, timeout=30) as s:
        s.ehlo()
        code, _ = s.mail(mail_from)
        assert code == 250
        s.rcpt(rcpt)
        code, msg = s.data(raw)
        return code, msg.decode()


def mail(body: str, subject: str = "Vraag", sender: str = "inwoner@example.org", msgid: str | None = None,
         headers: dict | None = None) -> bytes:
    m = EmailMessage()
    m["From"] = f"Inwoner <{sender}>"
    m["To"] = "wijkteam@denhelder.nl"
    m["Subject"] = subject
    if msgid:
        m["Message-ID"] = f"<{msgid}>"
    for k, v in (headers or {}).items():
        m[k] = v
    m.set_content(body)
    return m.as_bytes(policy=SMTP_POLICY)


NEED = ("Beste wijkteam, mijn moeder (82) valt steeds vaker en kan zichzelf niet meer goed wassen. "
        "Ik woon ver weg. Kan er iemand komen kijken wat ze nodig heeft? Groet, Petra Smit")


def test_mail_in_gets_250_with_case_number_and_reply_out(service, relay):
    sink, _ = relay
    code, text = send(service, mail(NEED, msgid="m1@example.org"))
    assert code == 250 and "SWT-" in text
    number = text.split()[3] if text.split()[3].startswith("SWT-") else [w for w in text.split() if w.startswith("SWT-")][0]
    cases = service.store.list_cases()
    assert [c["number"] for c in cases] == [number]
    out = sink.wait(1)
    assert len(out) == 1
    reply = out[0]
    assert number in reply["Subject"]
    assert reply["In-Reply-To"] == "<m1@example.org>"
    assert "<m1@example.org>" in reply["References"]
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["To"] == "inwoner@example.org"
    body = reply.get_body(("plain",)).get_content()
    assert number in body and "Petra" not in body  # no client data in the reply


def test_crisis_mail_gets_crisis_numbers_at_once(service, relay):
    sink, _ = relay
    code, _ = send(service, mail("Ik wil niet meer leven. Ik heb de pillen al klaargelegd voor vanavond.",
                                 subject="help", msgid="crisis1@example.org"))
    assert code == 250
    case = service.store.list_cases()[0]
    assert case["category"] == "crisis" and case["route"] == "crisis"
    body = sink.wait(1)[0].get_body(("plain",)).get_content()
    assert "113" in body and "112" in body and "0800" in body


def test_mail_over_the_size_limit_gets_552_and_nothing_is_stored(service):
    m = message_from_bytes(mail(NEED, msgid="big@example.org"), policy=default_policy)
    m.add_attachment(os.urandom(2_000_000), maintype="application", subtype="pdf", filename="scan.pdf")
    big = m.as_bytes(policy=SMTP_POLICY)
    with smtplib.SMTP(service.settings.smtp_host, service.settings.smtp_port, timeout=30) as s:
        s.ehlo()
        s.mail("inwoner@example.org")
        s.rcpt("wijkteam@denhelder.nl")
        code, text = s.data(big)
    assert code == 552, text
    assert service.store.list_messages() == []


def test_invalid_recipient_gets_a_clear_refusal(service):
    with smtplib.SMTP(service.settings.smtp_host, service.settings.smtp_port, timeout=30) as s:
        s.ehlo()
        s.mail("inwoner@example.org")
        code, msg = s.rcpt("geen-adres")
    assert code >= 500


def test_redelivery_is_stored_once(service, relay):
    sink, _ = relay
    raw = mail(NEED, msgid="twice@example.org")
    first = send(service, raw)
    second = send(service, raw)
    assert first[0] == second[0] == 250
    assert len(service.store.list_messages()) == 1
    assert len(sink.wait(1, timeout=2)) == 1  # and answered once


AUTO = [
    ({"Auto-Submitted": "auto-replied"}, "Re: Vraag", None),
    ({"Auto-Submitted": "auto-generated"}, "Melding", None),
    ({"X-Autoreply": "yes"}, "Re: uw bericht", None),
    ({"X-Autorespond": "yes"}, "Re: uw bericht", None),
    ({"Precedence": "bulk"}, "Nieuwsbrief november", None),
    ({"Precedence": "list"}, "Re: discussie", None),
    ({"Precedence": "junk"}, "Aanbieding", None),
    ({"Precedence": "auto_reply"}, "Re: Vraag", None),
    ({"List-Id": "<buurt.lists.example.org>"}, "Buurtnieuws", None),
    ({"List-Unsubscribe": "<mailto:leave@example.org>"}, "Wekelijkse update", None),
    ({"X-Auto-Response-Suppress": "All"}, "Re: Vraag", None),
    ({}, "Automatisch antwoord: Vraag", None),
    ({}, "Out of Office: Vraag", None),
    ({}, "Afwezig: Vraag", None),
    ({}, "Automatic reply: Vraag", None),
    ({}, "Undelivered Mail Returned to Sender", None),
    ({}, "Onbestelbaar: Vraag", None),
    ({}, "Vraag", "<>"),  # null reverse path: a bounce
    ({}, "Delivery Status Notification (Failure)", "MAILER-DAEMON@example.org"),
    ({"X-Failed-Recipients": "iemand@example.org"}, "Mail delivery failed", None),
]


def test_twenty_kinds_of_automatic_mail_are_stored_and_never_answered(service, relay):
    sink, _ = relay
    for i, (headers, subject, mail_from) in enumerate(AUTO):
        raw = mail("Ik ben afwezig tot maandag. Ik heb schulden en zorgen, bel me niet.", subject=subject,
                   sender="MAILER-DAEMON@example.org" if mail_from and "DAEMON" in mail_from else f"auto{i}@example.org",
                   msgid=f"auto{i}@example.org", headers=headers)
        if mail_from == "<>":
            with smtplib.SMTP(service.settings.smtp_host, service.settings.smtp_port, timeout=30) as s:
                s.ehlo()
                s.docmd("MAIL FROM:<>")
                s.rcpt("wijkteam@denhelder.nl")
                code, _ = s.data(raw)
        else:
            code, _ = send(service, raw, mail_from=mail_from or f"auto{i}@example.org")
        assert code == 250
    msgs = service.store.list_messages()
    assert len(msgs) == len(AUTO) == 20
    assert all(m["auto_reply"] for m in msgs), [m for m in msgs if not m["auto_reply"]]
    assert all(m["case_number"] is None for m in msgs)
    # a normal mail afterwards is answered: the relay works, so 0 replies above is real
    send(service, mail(NEED, msgid="normal@example.org"))
    out = sink.wait(1)
    time.sleep(0.5)
    assert len(sink.messages) == 1 and sink.messages[0]["To"] == "inwoner@example.org"


def test_reply_rate_limit_per_sender_but_crisis_always_answered(service, relay):
    sink, _ = relay
    for i in range(5):
        send(service, mail(f"Vraag {i}: hoe vraag ik bijzondere bijstand aan voor een wasmachine?",
                           msgid=f"rate{i}@example.org", sender="veel@example.org"), mail_from="veel@example.org")
    send(service, mail("Ik zie geen uitweg meer en wil er vannacht een eind aan maken.", msgid="rate-crisis@example.org",
                       sender="veel@example.org"), mail_from="veel@example.org")
    out = sink.wait(4)
    time.sleep(0.5)
    kinds = [m.get_body(("plain",)).get_content() for m in sink.messages]
    assert len(sink.messages) == 4  # 3 within the hourly limit + the crisis reply
    assert any("113" in k for k in kinds)
    assert len(service.store.list_messages()) == 6  # all stored


def test_resident_reply_joins_case_and_other_sender_does_not(service, relay):
    sink, _ = relay
    _, text = send(service, mail(NEED, msgid="first@example.org", sender="petra@example.org"),
                   mail_from="petra@example.org")
    number = [w for w in text.split() if w.startswith("SWT-")][0]
    ours = sink.wait(1)[0]["Message-ID"]
    _, t2 = send(service, mail("Ze is morgen thuis na 10 uur.", subject=f"Re: [{number}] Re: Vraag",
                               sender="petra@example.org", msgid="second@example.org",
                               headers={"In-Reply-To": ours, "References": ours}), mail_from="petra@example.org")
    assert number in t2
    _, t3 = send(service, mail("Ik heb ook hulp nodig met mijn moeder.", subject=f"Re: [{number}] Re: Vraag",
                               sender="ander@example.net", msgid="third@example.net",
                               headers={"In-Reply-To": ours}), mail_from="ander@example.net")
    assert number not in t3
    case = service.store.show_case(number, actor="test")
    assert {m["afzender"] for m in case["messages"]} == {"petra@example.org"}
    assert len(case["messages"]) == 2


def test_odd_mail_is_accepted_and_stored(service):
    html_only = (b"From: a@example.org\r\nTo: w@x.nl\r\nSubject: =?iso-8859-1?Q?Hulp_bij_geldzaken_=E9n_werk?=\r\n"
                 b"Message-ID: <html@x>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=windows-1252\r\n\r\n"
                 b"<html><body><p>Ik heb schulden \x80 200 en geen werk meer.</p></body></html>\r\n")
    empty = b"From: b@example.org\r\nTo: w@x.nl\r\nSubject: \r\nMessage-ID: <empty@x>\r\n\r\n"
    garbage = b"\x00\xff\xfe garbage without headers \x81\x82\r\n"
    for raw in (html_only, empty, garbage):
        code, _ = send(service, raw)
        assert code == 250
    msgs = service.store.list_messages()
    assert len(msgs) == 3
    case = service.store.show_case(msgs[0]["case_number"], actor="test")
    m = case["messages"][0]
    assert "Hulp bij geldzaken én werk" == m["onderwerp"]
    assert "€ 200" in m["inhoud"] and "<p>" not in m["inhoud"]


def _cpython_email_corpus() -> list[str]:
    return sorted(glob.glob(os.path.join(sysconfig.get_path("stdlib"), "test", "test_email", "data", "msg_*.txt")))


def test_cpython_mime_corpus_every_message_accepted_and_stored(service):
    files = _cpython_email_corpus()
    if not files:
        if os.environ.get("CI"):
            pytest.fail("CPython's test/test_email/data is missing from this Python installation")
        pytest.skip("CPython's test/test_email/data is missing from this Python installation")
    codes = []
    for path in files:
        with open(path, "rb") as fh:
            # a mail server sends CRLF lines; the corpus files have LF
            codes.append(send(service, re.sub(rb"\r?\n", b"\r\n", fh.read()))[0])
    assert codes == [250] * len(files)
    from channels.mime import parse_email

    msgs = service.store.list_messages()
    # messages with the same Message-ID (or the same bytes) are one message
    keys = {parse_email(re.sub(rb"\r?\n", b"\r\n", open(p, "rb").read())).channel_message_id for p in files}
    assert len(files) == 48 or len(files) > 30
    stored = [m["channel_message_id"] for m in msgs]
    assert len(stored) == len(set(stored)) == len(keys)  # each once
    assert {k for k in keys if not k.startswith("sha256:")} <= set(stored)
    assert all(m["status"] in ("triaged", "ignored") for m in msgs)


def test_relay_down_keeps_replies_in_the_outbox_until_it_is_back(tmp_path, triage):
    relay_port = free_port()  # nothing listens here yet
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'triage.db'}", smtp_port=free_port(), workers=0,
                        outbound_smtp=f"127.0.0.1:{relay_port}")
    svc = Service(settings).start(triage=triage)
    svc.outbound.interval = 0.1
    try:
        assert send(svc, mail(NEED, msgid="relaydown@example.org"))[0] == 250
        time.sleep(0.5)
        assert [o.status for o in svc.store.outbox()] == ["pending"]
        sink = Sink()
        ctl = Controller(sink, hostname="127.0.0.1", port=relay_port)
        ctl.start()
        try:
            svc.outbound.send_pending()
            assert len(sink.wait(1)) == 1 and svc.store.outbox() == []
        finally:
            ctl.stop()
    finally:
        svc.stop()


def test_database_gone_gives_451_and_the_retry_is_stored(postgres_server, triage):  # noqa: F811
    from servers import fresh_database

    settings = Settings(db_url=fresh_database(postgres_server), smtp_port=free_port(), workers=0)
    svc = Service(settings).start(triage=triage)
    svc.store.retries, svc.store.retry_delay = 1, 0.05
    try:
        raw = mail(NEED, msgid="dbgone@example.org")
        postgres_server.stop()
        try:
            assert send(svc, raw)[0] == 451  # the sending server keeps the mail and retries
        finally:
            postgres_server.start()
        code, text = send(svc, raw)
        assert code == 250 and "SWT-" in text
        assert [m["channel_message_id"] for m in svc.store.list_messages()] == ["dbgone@example.org"]
    finally:
        svc.stop()
