"""The case store on a real SQLite file and a real PostgreSQL server:
idempotency, readable case numbers, reply joining rules, audit events,
retention, and a database that is briefly gone."""

import json
import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from channels.mime import parse_email
from servers import fresh_database, postgres_server  # noqa: F401  (fixture)
from triage.intake import Intake
from triage.store import (
    Case, DeletionLog, Event, InboundRecord, OutboundRecord, Startformulier, Store, StoreUnavailable, utcnow,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'triage.db'}"
    else:
        url = fresh_database(request.getfixturevalue("postgres_server"))
    s = Store(url, retries=3, retry_delay=0.05)
    s.migrate()
    yield s
    s.engine.dispose()


@pytest.fixture
def intake(store, triage):
    return Intake(store, triage)


def mail(body: str, *, sender="jan.jansen@example.org", subject="Vraag", msgid=None, extra: str = "") -> bytes:
    head = f"From: Jan Jansen <{sender}>\r\nTo: wijkteam@denhelder.nl\r\nSubject: {subject}\r\n"
    if msgid:
        head += f"Message-ID: <{msgid}>\r\n"
    return (head + extra + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n").encode("utf-8")


NEED = "Goedendag, ik heb schulden en de deurwaarder komt volgende week. Ik weet niet meer hoe ik dit moet oplossen."


def test_schema_migrates_twice_and_sqlite_uses_wal(store):
    store.migrate()  # idempotent
    if store.url.startswith("sqlite"):
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_same_mail_twice_is_stored_once_with_one_case(intake, store):
    raw = mail(NEED, msgid="dubbel-1@example.org")
    first = intake.receive_email(parse_email(raw))
    second = intake.receive_email(parse_email(raw))
    assert not first.duplicate and second.duplicate
    assert second.case_number == first.case_number
    msgs = store.list_messages()
    assert len(msgs) == 1 and msgs[0]["case_number"] == first.case_number
    assert len(store.list_cases()) == 1


def test_mail_without_message_id_is_deduplicated_on_content(intake, store):
    raw = mail(NEED)
    intake.receive_email(parse_email(raw))
    intake.receive_email(parse_email(raw))
    assert len(store.list_messages()) == 1


def test_concurrent_redelivery_makes_one_row(store):
    errors = []

    def save():
        try:
            store.save_inbound(kanaal="email", channel_message_id="race@x", idempotency_key="race@x",
                               afzender="a@example.org", afzender_naam=None, onderwerp="", inhoud="tekst", raw=b"x")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=save) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(store.list_messages()) == 1


def test_case_numbers_are_readable_and_sequential(intake, store):
    numbers = [intake.receive_email(parse_email(mail(NEED + f" ({i})", msgid=f"n{i}@x"))).case_number
               for i in range(3)]
    year = utcnow().year
    assert numbers == [f"SWT-{year}-{i:06d}" for i in (1, 2, 3)]


def test_raw_original_and_attachments_are_kept(intake, store):
    raw = (b"From: a@example.org\r\nTo: w@x.nl\r\nSubject: bijlage\r\nMessage-ID: <att@x>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=BB\r\n\r\n--BB\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           + NEED.encode() + b"\r\n--BB\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
           b"filename=\"brief.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--BB--\r\n")
    intake.receive_email(parse_email(raw))
    with store.session() as s:
        rec = s.exec(select(InboundRecord)).one()
        assert rec.raw == raw
        from triage.store import AttachmentRecord

        att = s.exec(select(AttachmentRecord)).one()
        assert (att.filename, att.content_type, att.size) == ("brief.pdf", "application/pdf", 9)


def test_reply_joins_case_only_when_reference_and_sender_match(intake, store):
    first = intake.receive_email(parse_email(mail(NEED, msgid="orig@example.org")))
    out_id = store.outbox()[0].message_id
    # the resident answers our acknowledgement: In-Reply-To names our reply
    reply = mail("Ik kan morgen na 14 uur gebeld worden.", subject=f"Re: [{first.case_number}] Re: Vraag",
                 msgid="reply1@example.org", extra=f"In-Reply-To: <{out_id}>\r\n")
    joined = intake.receive_email(parse_email(reply))
    assert joined.case_number == first.case_number
    # only the case number in the subject, same sender: joins as well
    by_subject = mail("Nog een vraag over mijn zaak.", subject=f"Zaak {first.case_number}", msgid="reply2@example.org")
    assert intake.receive_email(parse_email(by_subject)).case_number == first.case_number
    # someone else quotes the case number: a new case, linked as possibly related
    other = mail("Ik wil ook hulp bij mijn schulden.", sender="iemand.anders@example.net",
                 subject=f"Re: [{first.case_number}] Re: Vraag", msgid="other@example.net",
                 extra=f"In-Reply-To: <{out_id}>\r\n")
    new = intake.receive_email(parse_email(other))
    assert new.case_number != first.case_number
    cases = {c["number"]: c for c in store.list_cases()}
    assert cases[new.case_number]["related_case_id"] == first.case_id
    with store.session() as s:
        msgs = s.exec(select(InboundRecord).where(InboundRecord.case_id == first.case_id)).all()
        assert {m.afzender for m in msgs} == {"jan.jansen@example.org"}


def test_show_case_is_an_audit_event_without_personal_data(intake, store):
    res = intake.receive_email(parse_email(mail(NEED + " Mijn telefoon is 06-12345678.", msgid="audit@x")))
    shown = store.show_case(res.case_number, actor="kcc:test")
    assert shown["startformulier"]["fields"].get("telefoon") == "0612345678"
    with store.session() as s:
        events = s.exec(select(Event).where(Event.case_id == res.case_id)).all()
    actions = [e.action for e in events]
    assert "case_created" in actions and "case_viewed" in actions
    assert any(e.actor == "kcc:test" and e.action == "case_viewed" for e in events)
    dumped = json.dumps([e.detail for e in events])
    assert "0612345678" not in dumped and "schulden" not in dumped and "example.org" not in dumped


@pytest.mark.parametrize("mode", ["anonymise", "delete"])
def test_retention_removes_personal_data_of_old_closed_cases(intake, store, mode):
    old = intake.receive_email(parse_email(mail(NEED + " Bel me op 0612345678.", msgid=f"old-{mode}@x")))
    recent = intake.receive_email(parse_email(mail(NEED + " Nieuw.", msgid=f"new-{mode}@x")))
    still_open = intake.receive_email(parse_email(mail(NEED + " Open.", msgid=f"open-{mode}@x")))
    store.close_case(old.case_number, actor="bd:test", when=utcnow() - timedelta(days=800))
    store.close_case(recent.case_number, actor="bd:test", when=utcnow() - timedelta(days=10))
    assert store.run_retention(730, mode) == 1
    assert store.run_retention(730, mode) == 0  # nothing twice
    with store.session() as s:
        log = s.exec(select(DeletionLog)).one()
        assert log.case_number == old.case_number and log.action == ("deleted" if mode == "delete" else "anonymised")
        assert log.messages == 1
        if mode == "delete":
            assert s.exec(select(Case).where(Case.number == old.case_number)).first() is None
        else:
            c = s.exec(select(Case).where(Case.number == old.case_number)).one()
            assert c.afzender is None and c.anonymised_at is not None
            form = s.exec(select(Startformulier).where(Startformulier.case_id == c.id)).one()
            assert form.fields == {} and form.hulpvraag == ""
        texts = [m.inhoud for m in s.exec(select(InboundRecord)).all()]
        assert not any("0612345678" in t for t in texts)
        assert sum(1 for t in texts if t.startswith(NEED)) == 2  # the recent and the open case keep theirs
        outs = s.exec(select(OutboundRecord)).all()
        assert not any(o.to == "jan.jansen@example.org" and o.case_id == old.case_id for o in outs)
    assert {c["number"] for c in store.list_cases()} >= {recent.case_number, still_open.case_number}


def test_postgres_briefly_gone_is_retried_and_gone_for_long_is_a_clear_error(postgres_server):  # noqa: F811
    url = fresh_database(postgres_server)
    store = Store(url, retries=6, retry_delay=0.3)
    store.migrate()
    postgres_server.stop()
    timer = threading.Timer(0.8, postgres_server.start)
    timer.start()
    try:
        rec, dup = store.save_inbound(kanaal="email", channel_message_id="gone@x", idempotency_key="gone@x",
                                      afzender=None, afzender_naam=None, onderwerp="", inhoud="tekst", raw=b"x")
    finally:
        timer.join()
    assert rec.id and not dup
    assert [m["channel_message_id"] for m in store.list_messages()] == ["gone@x"]
    postgres_server.stop()
    try:
        quick = Store(url, retries=1, retry_delay=0.05)
        with pytest.raises(StoreUnavailable):
            quick.save_inbound(kanaal="email", channel_message_id="lost@x", idempotency_key="lost@x",
                               afzender=None, afzender_naam=None, onderwerp="", inhoud="tekst", raw=b"x")
    finally:
        postgres_server.start()
    store.engine.dispose()


def test_the_years_first_cases_made_at_the_same_moment_get_distinct_numbers(store, triage):
    """No counter row yet for the year: concurrent first cases must not fail
    on the row's unique year (PostgreSQL: insert ... on conflict do nothing)."""
    import threading

    res = triage.classify("Mijn moeder kan de trap niet meer op en heeft een traplift nodig.")
    ids = [store.save_inbound(kanaal="email", channel_message_id=f"<{i}@x>", idempotency_key=f"<{i}@x>",
                              afzender=None, afzender_naam=None, onderwerp="", inhoud="traplift", raw=None)[0].id
           for i in range(8)]
    barrier = threading.Barrier(len(ids))
    numbers, errors = [], []

    def make(mid):
        barrier.wait()
        try:
            numbers.append(store.record_triage(mid, res, hulpvraag="traplift").case_number)
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(repr(exc))

    threads = [threading.Thread(target=make, args=(m,)) for m in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(numbers)) == len(ids)
