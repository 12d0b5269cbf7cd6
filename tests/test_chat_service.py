"""The chat entry point with the real engine and a real store (SQLite file and
PostgreSQL): message stored first, cases and startformulier from the
conversation, crisis to the top of the queue, resume after a restart,
redelivery handled once."""

import json
from pathlib import Path

import pytest
from sqlmodel import select

from channels.chat import ChatService
from servers import fresh_database, postgres_server  # noqa: F401  (fixture)
from triage.conversation import TEXTS
from triage.store import (Case, Conversation, Event, InboundRecord, OutboundRecord, Startformulier, Store,
                          StoreUnavailable)

NL = TEXTS["nl"]
SUPPORT = "Ik heb schulden en mijn zoon gaat niet meer naar school en ik ben zelf depressief. Ik wil graag hulp."
CRISIS = "ik zie het niet meer zitten, ik wil er een eind aan maken"
FORM = ["Jan de Vries", "06-12345678", "1781 AB 12", "ja", "ja", "ochtend"]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'triage.db'}"
    return fresh_database(request.getfixturevalue("postgres_server"))


@pytest.fixture
def store(db_url):
    s = Store(db_url, retries=3, retry_delay=0.05)
    s.migrate()
    yield s
    s.engine.dispose()


def case_rows(store):
    with store.session() as s:
        return list(s.exec(select(Case).order_by(Case.id)).all())


def test_support_need_through_the_form_makes_one_case_with_its_startformulier(store, triage):
    chat = ChatService(store, triage)
    opened = chat.open("webchat", "sessie-1")
    assert "Privacy" in opened.replies[0] and not opened.resumed
    out = chat.handle("webchat", "sessie-1", SUPPORT)
    assert out.replies == [NL["form_intro_support"], NL["q_naam"]] and case_rows(store) == []
    for answer in FORM:
        out = chat.handle("webchat", "sessie-1", answer)
    assert "1. Naam: Jan de Vries" in out.replies[0]
    out = chat.handle("webchat", "sessie-1", "ja")
    [case] = case_rows(store)
    assert out.case_number == case.number and f"Uw zaaknummer is {case.number}." in out.replies[0]
    assert "{case}" not in out.replies[0]
    assert (case.kanaal, case.category, case.route, case.status) == ("chat", "meervoudig", "bureaudienst", "open")
    with store.session() as s:
        form = s.exec(select(Startformulier).where(Startformulier.case_id == case.id)).one()
        msgs = s.exec(select(InboundRecord).order_by(InboundRecord.id)).all()
        conv = s.exec(select(Conversation)).one()
        events = s.exec(select(Event)).all()
    assert (form.fields["naam"], form.fields["telefoon"], form.fields["postcode"]) == ("Jan de Vries", "0612345678", "1781 AB")
    assert form.consent == "ja" and form.hulpvraag == SUPPORT
    # every message stored, all joined to the case, none left for mail intake
    assert [m.inhoud for m in msgs] == [SUPPORT, *FORM, "ja"]
    assert {m.case_id for m in msgs} == {case.id} and {m.status for m in msgs} == {"triaged"}
    assert store.pending_messages() == []
    assert conv.case_id == case.id and conv.status == "klaar" and conv.state["case_number"] == case.number
    # audit events without personal data
    assert "case_created" in [e.action for e in events]
    dumped = json.dumps([e.detail for e in events])
    for secret in ("Jan", "0612345678", "1781", "schulden"):
        assert secret not in dumped
    # a later message joins the case
    out = chat.handle("webchat", "sessie-1", "Mijn dochter wordt ook gepest op school.")
    assert case.number in out.replies[0] and out.actions == ["add_message"]
    with store.session() as s:
        assert s.exec(select(InboundRecord).order_by(InboundRecord.id.desc())).first().case_id == case.id


def test_crisis_in_the_third_message_makes_a_spoed_case_at_once_and_the_form_completes_it(store, triage):
    chat = ChatService(store, triage)
    chat.handle("telegram", "42", SUPPORT)
    chat.handle("telegram", "42", "Jan de Vries")
    out = chat.handle("telegram", "42", CRISIS)
    assert out.actions == ["escalate_crisis"]
    assert "112" in out.replies[0] and "113" in out.replies[0]
    [case] = case_rows(store)
    assert (case.category, case.route, case.priority) == ("crisis", "crisis", "spoed")
    assert case.number in out.replies[1] and "{case}" not in "".join(out.replies)
    # the crisis case is at the top of the queue: crisis before every other case
    for answer in ["0612345678", "1781 AB 12", "ja", "ja", "middag"]:
        out = chat.handle("telegram", "42", answer)
    out = chat.handle("telegram", "42", "ja")
    [same] = case_rows(store)
    assert same.number == case.number and same.category == "crisis" and case.number in out.replies[0]
    with store.session() as s:
        form = s.exec(select(Startformulier).where(Startformulier.case_id == case.id)).one()
        actions = [e.action for e in s.exec(select(Event).where(Event.case_id == case.id)).all()]
    assert form.fields["telefoon"] == "0612345678" and form.fields["naam"] == "Jan de Vries"
    assert actions.count("case_created") == 1 and "startformulier_completed" in actions


def test_crisis_after_a_case_raises_that_case(store, triage):
    chat = ChatService(store, triage)
    chat.handle("webchat", "s", "Hoe vraag ik een paspoort aan?")
    chat.handle("webchat", "s", "nee")
    chat.handle("webchat", "s", "ja")
    for answer in ["Piet Jansen", "piet@example.nl", "1785 XK 4", "ja", "nee"]:
        chat.handle("webchat", "s", answer)
    chat.handle("webchat", "s", "ja")
    [case] = case_rows(store)
    assert case.category == "info_advies" and case.priority != "spoed"
    out = chat.handle("webchat", "s", "hij slaat me weer, ik durf niet naar huis")
    [raised] = case_rows(store)
    assert (raised.number, raised.category, raised.route, raised.priority) == (case.number, "crisis", "crisis", "spoed")
    assert "112" in out.replies[0] and case.number in out.replies[1]


def test_a_restart_resumes_the_conversation_in_the_middle_of_the_form(store, db_url, triage):
    chat = ChatService(store, triage)
    chat.handle("webchat", "r", SUPPORT)
    chat.handle("webchat", "r", "Jan de Vries")
    store.engine.dispose()
    # a new process: new store, new service, same database
    store2 = Store(db_url)
    chat2 = ChatService(store2, triage)
    opened = chat2.open("webchat", "r")
    assert opened.resumed and opened.replies == [] and opened.history[-1] == ("assistent", NL["q_contact"])
    out = chat2.handle("webchat", "r", "0612345678")
    assert out.replies == [NL["q_adres"]]
    store2.engine.dispose()


def test_a_message_delivered_twice_is_handled_once(store, triage):
    chat = ChatService(store, triage)
    first = chat.handle("telegram", "7", SUPPORT, key="update:100")
    again = chat.handle("telegram", "7", SUPPORT, key="update:100")
    assert first.replies[-1] == NL["q_naam"] and again.duplicate and again.replies == []
    with store.session() as s:
        assert len(s.exec(select(InboundRecord)).all()) == 1


def test_a_stored_but_unhandled_message_is_handled_before_the_next(store, triage):
    ChatService(store, triage).open("webchat", "c")
    conv = store.conversation("webchat", "c")
    store.save_chat_message(conv, SUPPORT, "m1")  # stored, then the process died
    chat = ChatService(store, triage)  # the next process
    out = chat.handle("webchat", "c", "Jan de Vries", key="m2")
    assert out.replies == [NL["form_intro_support"], NL["q_naam"], NL["q_contact"]]


def test_a_message_whose_turn_failed_is_handled_before_the_next_in_the_same_process(store, triage, monkeypatch):
    chat = ChatService(store, triage)
    chat.handle("webchat", "f", "Hallo")  # this process now knows the conversation has nothing left over
    real = store.record_chat_turn

    def store_gone(*args, **kwargs):
        raise StoreUnavailable("database unavailable: OperationalError")

    monkeypatch.setattr(store, "record_chat_turn", store_gone)
    with pytest.raises(StoreUnavailable):
        chat.handle("webchat", "f", SUPPORT, key="m1")  # stored, not handled
    monkeypatch.setattr(store, "record_chat_turn", real)
    out = chat.handle("webchat", "f", "Jan de Vries", key="m2")
    assert out.replies == [NL["form_intro_support"], NL["q_naam"], NL["q_contact"]]
    with store.session() as s:
        assert {m.status for m in s.exec(select(InboundRecord)).all()} == {"triaged"}


def test_size_and_rate_limits_per_chat(store, triage):
    chat = ChatService(store, triage, max_chars=200, rate_limit=3)
    out = chat.handle("webchat", "big", "x" * 500)
    assert "te lang (500 tekens)" in out.replies[-1] and out.actions == ["refused"]
    for i in range(3):
        chat.handle("webchat", "fast", f"hallo {i}")
    out = chat.handle("webchat", "fast", "hallo nog een keer")
    assert out.replies == [NL["rate"].replace("{alarmnummer}", "112")] and out.actions == ["refused"]
    # another chat is not limited by this one
    assert chat.handle("webchat", "other", "hallo").actions == []


def test_the_migrations_match_the_tables_and_go_down_and_up(store):
    """0002 is hand-written: Alembic's autogenerate finds nothing missing."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert [d for d in diff if "conversation" in repr(d)] == []
    cfg = Config()
    import triage.migrations

    cfg.set_main_option("script_location", str(Path(triage.migrations.__file__).parent))
    cfg.set_main_option("sqlalchemy.url", store.url.replace("%", "%%"))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    with store.engine.connect() as conn:
        assert "conversation" not in conn.dialect.get_table_names(conn)
    store.migrate()
    assert store.conversation("webchat", "x") is None


def test_many_conversations_at_once_each_reach_their_own_case(store, triage):
    """20 conversations in 20 threads on one service: every message stored and
    handled, one case each, no conversation sees another's answers."""
    import threading

    chat = ChatService(store, triage)
    # the year's first case number before the rush: on PostgreSQL two first cases of a
    # year at the same moment both insert the year's counter row (a store issue, not chat's)
    chat.handle("webchat", "first", CRISIS)
    errors: list[BaseException] = []

    def walk(i: int) -> None:
        try:
            chat.handle("webchat", f"par-{i}", SUPPORT)
            for answer in [f"Jan Nummer{chr(65 + i)}", f"06-123456{i:02d}", "1781 AB 12", "ja", "ja", "ochtend", "ja"]:
                chat.handle("webchat", f"par-{i}", answer)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=walk, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    cases = case_rows(store)[1:]
    assert len(cases) == 20 and len({c.number for c in cases}) == 20
    with store.session() as s:
        msgs = s.exec(select(InboundRecord).where(InboundRecord.channel_message_id != "webchat:first")).all()
        forms = {f.case_id: f for f in s.exec(select(Startformulier)).all()}
    assert len(msgs) == 20 * 8 and {m.status for m in msgs} == {"triaged"}
    for c in cases:
        own = {m.channel_message_id for m in msgs if m.case_id == c.id}
        i = int(own.pop().split("-")[1])
        assert not own and forms[c.id].fields["telefoon"] == f"06123456{i:02d}"


def test_messages_of_one_conversation_sent_at_once_are_handled_one_at_a_time(store, triage):
    import threading

    chat = ChatService(store, triage)
    chat.open("telegram", "9")
    texts = [f"Ik heb een vraag over de bibliotheek nummer {i}" for i in range(8)]
    threads = [threading.Thread(target=chat.handle, args=("telegram", "9", t), kwargs={"key": f"u{i}"})
               for i, t in enumerate(texts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    conv = store.conversation("telegram", "9")
    said = [text for role, text in conv.state["transcript"] if role == "inwoner"]
    assert sorted(said) == sorted(texts) and conv.state["messages"] == 8  # no turn lost to another


def test_a_received_message_is_handled_later_once_and_survives_a_crash(store, triage):
    """receive() stores now (a webhook answers 200 after it), handle() with the
    same key replies later; what was received but never handled comes first."""
    chat = ChatService(store, triage)
    assert chat.receive("telegram", "77", SUPPORT, key="update:1") is True
    assert chat.receive("telegram", "77", SUPPORT, key="update:1") is False  # delivered twice
    assert store.conversation("telegram", "77") is None  # started (with its greeting) by handle
    out = chat.handle("telegram", "77", SUPPORT, key="update:1")
    assert "Privacy" in out.replies[0] and out.replies[1:] == [NL["form_intro_support"], NL["q_naam"]]
    assert chat.handle("telegram", "77", SUPPORT, key="update:1").replies == []
    chat.receive("telegram", "77", "Jan de Vries", key="update:2")  # acknowledged, then the process died
    out = ChatService(store, triage).handle("telegram", "77", "0612345678", key="update:3")
    assert out.replies == [NL["q_contact"], NL["q_adres"]]
    with store.session() as s:
        msgs = s.exec(select(InboundRecord).order_by(InboundRecord.id)).all()
    assert [m.inhoud for m in msgs] == [SUPPORT, "Jan de Vries", "0612345678"]
    assert {m.status for m in msgs} == {"triaged"}


def test_kcc_answers_wait_until_delivered_then_join_the_history(store, triage):
    """Store.send_answer on a chat case: pending for the chat's channel until
    delivered (then sent and in the history, once) or given up."""
    from channels.chat import answer_text

    chat = ChatService(store, triage)
    for text in ["Hoe vraag ik een paspoort aan?", "nee", "ja", "Piet Jansen", "piet@example.nl", "1785 XK 4", "ja",
                 "nee", "ja"]:
        out = chat.handle("webchat", "k", text)
    number = out.case_number
    store.send_answer(number, "kcc", body="Antwoord een")
    store.send_answer(number, "kcc", body="Antwoord twee")
    a, b = chat.pending_answers("webchat", "k")
    assert (a.kanaal, a.external_id, a.text) == ("webchat", "k", answer_text("Antwoord een"))
    assert a.text.startswith("Bericht van een medewerker van het Sociaal Wijkteam:\n\n")
    assert chat.pending_answers("webchat", ["other"]) == [] and chat.pending_answers("telegram") == []
    assert [x.id for x in chat.pending_answers("webchat")] == [a.id, b.id]
    assert chat.answer_failed(a, "NetworkError") == "pending"
    assert chat.answer_delivered(a) is True and chat.answer_delivered(a) is False  # once
    assert chat.answer_failed(b, "Forbidden", final=True) == "failed"
    assert chat.pending_answers("webchat", "k") == []
    with store.session() as s:
        rows = {o.body: o for o in s.exec(select(OutboundRecord)).all()}
        events = s.exec(select(Event).where(Event.action.in_(("reply_sent", "reply_failed")))).all()
    assert (rows["Antwoord een"].status, rows["Antwoord een"].attempts) == ("sent", 2)
    assert (rows["Antwoord twee"].status, rows["Antwoord twee"].last_error) == ("failed", "Forbidden")
    assert "Antwoord" not in json.dumps([e.detail for e in events]) and len(events) == 3
    # in the history once; a later turn of the engine keeps it
    history = chat.resume("webchat", "k").history
    assert history[-1] == ("medewerker", a.text) and [t for r, t in history if r == "medewerker"] == [a.text]
    chat.handle("webchat", "k", "Dank u wel")
    assert ("medewerker", a.text) in chat.resume("webchat", "k").history
