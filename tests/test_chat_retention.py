"""Retention of chat conversations that never became a case: after
TRIAGE_CHAT_RETENTION_DAYS without an update their state and their messages
are deleted by the daily retention run (and `triage retention run`); chats
with a case, and recent chats, stay. Real ChatService, real SQLite file."""

import json
from datetime import timedelta

import pytest
from sqlmodel import select

from channels.chat import ChatService
from servers import fresh_database, postgres_server  # noqa: F401  (fixture)
from triage.config import Settings
from triage.service import Service
from triage.store import Case, Conversation, Event, InboundRecord, Store, utcnow

SUPPORT = "Ik heb schulden en mijn zoon gaat niet meer naar school en ik ben zelf depressief. Ik wil graag hulp."
INFO = "Hoe vraag ik een paspoort aan? Mijn naam is Jan de Vries, 06-12345678."


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """A real SQLite file (and PostgreSQL as well)."""
    url = f"sqlite:///{tmp_path / 'triage.db'}" if request.param == "sqlite" else \
        fresh_database(request.getfixturevalue("postgres_server"))
    s = Store(url, retries=3, retry_delay=0.05)
    s.migrate()
    yield s
    s.engine.dispose()


def age(store, kanaal, external_id, days):
    """Make a conversation (and its messages) look ``days`` old."""
    when = utcnow() - timedelta(days=days)
    with store.session() as s:
        conv = s.exec(select(Conversation).where(Conversation.kanaal == kanaal,
                                                 Conversation.external_id == external_id)).one()
        conv.updated_at = when
        s.add(conv)
        for m in s.exec(select(InboundRecord).where(InboundRecord.channel_message_id == f"{kanaal}:{external_id}")):
            m.received_at = when
            s.add(m)
        s.commit()


def messages(store, kanaal, external_id):
    with store.session() as s:
        return list(s.exec(select(InboundRecord).where(
            InboundRecord.channel_message_id == f"{kanaal}:{external_id}").order_by(InboundRecord.id)).all())


def test_old_chats_without_a_case_are_deleted_and_the_rest_stays(store, triage, tmp_path):
    chat = ChatService(store, triage)
    # old, only an information question: deleted
    chat.handle("webchat", "old-info", INFO)
    chat.handle("webchat", "old-info", "ja")
    # recent, only an information question: stays
    chat.handle("telegram", "555", INFO)
    # old with a case: stays as it is
    chat.handle("webchat", "old-case", SUPPORT)
    for answer in ["Jan de Vries", "0612345678", "1781 AB 12", "ja", "ja", "ochtend", "ja"]:
        chat.handle("webchat", "old-case", answer)
    # old, a case, then "opnieuw" and a new question without a case: the case's messages stay
    chat.handle("webchat", "old-restart", "ik zie het niet meer zitten, ik wil er een eind aan maken")
    chat.handle("webchat", "old-restart", "opnieuw")
    chat.handle("webchat", "old-restart", INFO)
    # a message received (webhook) for a chat that never started, long ago
    chat.receive("telegram", "777", INFO, key="update:1")
    for kanaal, ext in [("webchat", "old-info"), ("webchat", "old-case"), ("webchat", "old-restart")]:
        age(store, kanaal, ext, 31)
    with store.session() as s:
        orphan = s.exec(select(InboundRecord).where(InboundRecord.channel_message_id == "telegram:777")).one()
        orphan.received_at = utcnow() - timedelta(days=31)
        s.add(orphan)
        s.commit()
    age(store, "telegram", "555", 29)
    old_info_ids = [m.id for m in messages(store, "webchat", "old-info")]
    case_msgs_before = [m.id for m in messages(store, "webchat", "old-restart") if m.case_id is not None]
    assert len(old_info_ids) == 2 and case_msgs_before

    svc = Service(Settings(data_dir=tmp_path, chat_retention_days=30))
    svc.store = store  # the daily run of `triage serve`, on this store
    svc.run_retention()

    assert store.conversation("webchat", "old-info") is None and messages(store, "webchat", "old-info") == []
    assert messages(store, "telegram", "777") == []
    assert store.conversation("webchat", "old-restart") is None
    assert [m.id for m in messages(store, "webchat", "old-restart")] == case_msgs_before  # the crisis case keeps them
    kept = store.conversation("webchat", "old-case")
    assert kept is not None and kept.state["case_number"] and len(messages(store, "webchat", "old-case")) == 8
    assert store.conversation("telegram", "555") is not None and len(messages(store, "telegram", "555")) == 1
    with store.session() as s:
        assert len(s.exec(select(Case)).all()) == 2
        events = s.exec(select(Event)).all()
    # the audit trail stays, without the link to the deleted messages; one event holds the counts
    assert not [e for e in events if e.message_id in old_info_ids]
    assert [e.action for e in events if e.message_id is None].count("message_received") >= 2
    [run] = [e for e in events if e.action == "chat_conversations_deleted"]
    assert run.detail == {"conversations": 2, "messages": 5, "days": 30}  # 2 + "opnieuw" and 1 after it + 1 received
    assert "Vries" not in json.dumps([e.detail for e in events]) and "0612345678" not in json.dumps([e.detail for e in events])

    # the resident of the deleted chat writes again: a new conversation, nothing of the old one
    assert chat.resume("webchat", "old-info") is None
    out = chat.handle("webchat", "old-info", "Hallo")
    assert "Privacy" in out.replies[0]
    assert [t for r, t in store.conversation("webchat", "old-info").state["transcript"] if r == "inwoner"] == ["Hallo"]

    # a second run finds nothing more
    assert store.run_chat_retention(30) == (0, 0)


def test_triage_retention_run_deletes_old_chats_too(store, triage, tmp_path, monkeypatch, capsys):
    from triage.cli import main

    chat = ChatService(store, triage)
    chat.handle("webchat", "cli-old", INFO)
    age(store, "webchat", "cli-old", 8)
    monkeypatch.setenv("TRIAGE_DB_URL", store.url)
    monkeypatch.setenv("TRIAGE_CHAT_RETENTION_DAYS", "7")
    assert main(["retention", "run"]) == 0
    assert "1 chat conversations without a case (1 messages) deleted" in capsys.readouterr().out
    assert store.conversation("webchat", "cli-old") is None and messages(store, "webchat", "cli-old") == []
