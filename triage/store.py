"""The case store: the only writer of messages, cases, startformulieren,
events (audit trail), corrections and the outbox.

SQLModel on SQLite (a file, WAL) by default, PostgreSQL by URL. The schema
is created and upgraded by Alembic migrations (triage/migrations).
Names follow the Dutch standard where it helps a later export to Open Klant
(kanaal, onderwerp, inhoud; status).

Rules kept here:
- store before acknowledge: ``save_inbound`` commits before it returns;
- idempotent: one row per (channel, idempotency key); a redelivery returns
  the stored row;
- every change and every view of a case is an Event with actor and time;
  events carry no personal data (no text, addresses or numbers).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import make_msgid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import JSON, Column, LargeBinary, String, UniqueConstraint, bindparam, event, func, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Field, Session, SQLModel, create_engine, select

log = logging.getLogger("triage.store")

__all__ = [
    "Store", "InboundRecord", "AttachmentRecord", "Case", "Startformulier", "Event", "Correction",
    "OutboundRecord", "DeletionLog", "ImapState", "StoreUnavailable", "utcnow", "Conversation", "ChatTurn",
    "User", "WebSession", "CaseNotFound", "CaseConflict", "ROLES", "CATEGORIES", "DOMAINS", "queue_for",
    "ChatMessage",
]


def utcnow() -> datetime:
    """Now, timezone-aware in UTC (the store keeps UTC)."""
    return datetime.now(timezone.utc)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


class StoreUnavailable(RuntimeError):
    """The database could not be reached, also after retrying."""


class CaseNotFound(LookupError):
    """No case with this number."""


class CaseConflict(RuntimeError):
    """The action does not fit the case's state (its message is for people)."""


ROLES = ("kcc", "bureaudienst", "beheer")
CATEGORIES = ("info_advies", "enkelvoudig", "meervoudig", "crisis")
DOMAINS = ("jeugd", "ggz", "schulden", "werk_inkomen", "wmo", "wonen", "veiligheid", "verslaving")
ROUTE_FOR_CATEGORY = {"info_advies": "kcc_review", "enkelvoudig": "bureaudienst", "meervoudig": "bureaudienst",
                      "crisis": "crisis"}


# ------------------------------------------------------------------ tables
class InboundRecord(SQLModel, table=True):
    """A received message (Klantcontact): the raw original is kept."""

    __tablename__ = "inbound_message"
    __table_args__ = (UniqueConstraint("kanaal", "idempotency_key", name="uq_inbound_idempotency"),)

    id: int | None = Field(default=None, primary_key=True)
    kanaal: str = Field(index=True, max_length=20)  # email, chat, phone, partner
    channel_message_id: str = Field(max_length=998)  # Message-ID, IMAP uidvalidity:uid, chat id
    idempotency_key: str = Field(max_length=255)
    afzender: str | None = Field(default=None, max_length=320)  # sender address (personal data)
    afzender_naam: str | None = Field(default=None, max_length=320)
    onderwerp: str = Field(default="", sa_column_kwargs={"nullable": False})
    inhoud: str = Field(default="")  # readable text
    raw: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    in_reply_to: str | None = Field(default=None, max_length=998)
    references: list = Field(default_factory=list, sa_column=Column(JSON))
    auto_reply: str | None = Field(default=None, max_length=100)
    problems: list = Field(default_factory=list, sa_column=Column(JSON))
    received_at: datetime = Field(default_factory=utcnow, index=True)
    status: str = Field(default="received", max_length=20)  # received | triaged | ignored | failed
    triage: dict | None = Field(default=None, sa_column=Column(JSON))
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)


class AttachmentRecord(SQLModel, table=True):
    __tablename__ = "attachment"
    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="inbound_message.id", index=True)
    filename: str | None = Field(default=None, max_length=255)
    content_type: str = Field(default="application/octet-stream", max_length=255)
    size: int = 0
    data: bytes | None = Field(default=None, sa_column=Column(LargeBinary))


class Case(SQLModel, table=True):
    """A case for the front door (the InterneTaak of Open Klant, roughly)."""

    __tablename__ = "case"
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(sa_column=Column(String(32), unique=True, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, index=True)
    kanaal: str = Field(max_length=20)
    category: str = Field(max_length=20, index=True)
    domains: list = Field(default_factory=list, sa_column=Column(JSON))
    confidence: float = 0.0
    route: str = Field(max_length=20, index=True)
    priority: str | None = Field(default=None, max_length=20)
    destination: str | None = Field(default=None, max_length=100)
    answer_id: str | None = Field(default=None, max_length=100)
    reasons: list = Field(default_factory=list, sa_column=Column(JSON))
    status: str = Field(default="open", max_length=20, index=True)  # open | answered | accepted | closed
    afzender: str | None = Field(default=None, max_length=320)  # the resident's address on this channel
    wijk: str | None = Field(default=None, max_length=100)
    related_case_id: int | None = Field(default=None, foreign_key="case.id")
    closed_at: datetime | None = None
    anonymised_at: datetime | None = None
    # console work (migration 0003)
    queue: str = Field(default="kcc", max_length=20, index=True)  # kcc | bureaudienst: who works on it now
    review: str | None = Field(default=None, max_length=20)  # KCC: accepted | corrected | forwarded | answered
    reviewed_by: str | None = Field(default=None, max_length=100)
    reviewed_at: datetime | None = None
    assigned_to: str | None = Field(default=None, max_length=100)  # wijkteam member
    accepted_by: str | None = Field(default=None, max_length=100)
    accepted_at: datetime | None = None
    remark: str | None = Field(default=None, max_length=2000)  # last remark when returned to the KCC
    indicatie: bool | None = None  # closed with an indication (pilot report)
    updated_at: datetime | None = None


class Startformulier(SQLModel, table=True):
    __tablename__ = "startformulier"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", unique=True)
    fields: dict = Field(default_factory=dict, sa_column=Column(JSON))
    evidence: dict = Field(default_factory=dict, sa_column=Column(JSON))
    consent: str = Field(default="onbekend", max_length=10)
    hulpvraag: str = Field(default="")
    updated_at: datetime = Field(default_factory=utcnow)


class Event(SQLModel, table=True):
    """Audit trail: who did what, when. No personal data in ``detail``."""

    __tablename__ = "event"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(max_length=100)  # "system", "smtp", a user name
    action: str = Field(max_length=50, index=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    message_id: int | None = Field(default=None, foreign_key="inbound_message.id")
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON))


class Correction(SQLModel, table=True):
    __tablename__ = "correction"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=100)
    case_id: int = Field(foreign_key="case.id", index=True)
    field: str = Field(max_length=50)
    old: dict | list | str | None = Field(default=None, sa_column=Column(JSON))
    new: dict | list | str | None = Field(default=None, sa_column=Column(JSON))


class OutboundRecord(SQLModel, table=True):
    """The outbox: replies are written here in the same transaction as the
    case, then sent by the outbound worker."""

    __tablename__ = "outbound_message"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    kanaal: str = Field(default="email", max_length=20)
    to: str = Field(max_length=320, index=True)
    subject: str = ""
    body: str = ""
    message_id: str = Field(max_length=998, index=True)
    in_reply_to: str | None = Field(default=None, max_length=998)
    references: list = Field(default_factory=list, sa_column=Column(JSON))
    kind: str = Field(default="ack", max_length=20)  # crisis | answer | ack
    status: str = Field(default="pending", max_length=20, index=True)  # pending | sent | failed | suppressed
    created_at: datetime = Field(default_factory=utcnow, index=True)
    sent_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)


class DeletionLog(SQLModel, table=True):
    """What retention removed: case number and dates only, no personal data."""

    __tablename__ = "deletion_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    case_number: str = Field(max_length=32)
    closed_at: datetime | None = None
    action: str = Field(max_length=20)  # anonymised | deleted
    messages: int = 0
    attachments: int = 0


class ImapState(SQLModel, table=True):
    __tablename__ = "imap_state"
    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(max_length=320)
    folder: str = Field(max_length=255)
    uidvalidity: int = 0
    last_uid: int = 0


class Conversation(SQLModel, table=True):
    """A chat conversation (web chat session, Telegram chat). ``state`` is the
    conversation engine's state (ConversationState.to_dict), so a
    conversation resumes after a restart. Its messages are InboundRecords
    with kanaal "chat" and channel_message_id "<kanaal>:<external_id>"."""

    __tablename__ = "conversation"
    __table_args__ = (UniqueConstraint("kanaal", "external_id", name="uq_conversation_external"),)

    id: int | None = Field(default=None, primary_key=True)
    kanaal: str = Field(max_length=20)  # webchat | telegram
    external_id: str = Field(max_length=255)  # web session token, Telegram chat id
    state: dict = Field(default_factory=dict, sa_column=Column(JSON))
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    since_message_id: int | None = None  # messages from here on belong to the current question (after "opnieuw")
    status: str = Field(default="open", max_length=20, index=True)  # open | klaar | gestopt
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow, index=True)


class User(SQLModel, table=True):
    """A console account. ``role``: kcc | bureaudienst | beheer."""

    __tablename__ = "console_user"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    display_name: str = Field(default="", max_length=100)
    role: str = Field(max_length=20)
    password_hash: str = Field(max_length=255)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None


class WebSession(SQLModel, table=True):
    """A console login. Only a hash of the cookie's token is stored."""

    __tablename__ = "web_session"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    user_id: int = Field(foreign_key="console_user.id", index=True)
    csrf: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)
    last_seen_at: datetime = Field(default_factory=utcnow)


class CaseCounter(SQLModel, table=True):
    __tablename__ = "case_counter"
    year: int = Field(primary_key=True)
    last: int = 0


# ------------------------------------------------------------------- store
@dataclass
class IntakeResult:
    message_id: int
    duplicate: bool
    case_number: str | None = None
    case_id: int | None = None


@dataclass
class ChatTurn:
    """What :meth:`Store.record_chat_turn` did: the state as saved (case
    number filled in) and the conversation's case."""

    state: object
    case_number: str | None
    case_id: int | None
    created: bool = False


@dataclass(slots=True)
class ChatMessage:
    """A stored chat message, as :meth:`Store.save_chat_message` returns it
    (a plain object: an InboundRecord costs 0.3 ms to build)."""

    id: int
    kanaal: str
    channel_message_id: str
    idempotency_key: str
    inhoud: str
    status: str
    case_id: int | None = None


# the chat's statements, built once (Core: see save_chat_message)
_INBOUND = InboundRecord.__table__
_EVENT = Event.__table__
_CONV = Conversation.__table__
_CASE = Case.__table__
_SQL_EVENT = _EVENT.insert()
_SQL_CHAT_STORED = select(_INBOUND.c.id, _INBOUND.c.inhoud, _INBOUND.c.status, _INBOUND.c.case_id).where(
    _INBOUND.c.kanaal == "chat", _INBOUND.c.idempotency_key == bindparam("b_key"))
_SQL_TURN_CONV = select(_CONV.c.kanaal, _CONV.c.external_id, _CONV.c.case_id, _CONV.c.since_message_id).where(
    _CONV.c.id == bindparam("b_id"))
_SQL_TURN_CONV_LOCKED = _SQL_TURN_CONV.with_for_update()
_SQL_TURN_CASE = select(_CASE.c.id, _CASE.c.number, _CASE.c.status).where(_CASE.c.id == bindparam("b_id"))
_SQL_CASE_SET = _CASE.update().where(_CASE.c.id == bindparam("b_id"))          # SET: the parameters' columns
_SQL_MESSAGE_SET = _INBOUND.update().where(_INBOUND.c.id == bindparam("b_id"))
_SQL_CONV_SET = _CONV.update().where(_CONV.c.id == bindparam("b_id"))


def queue_for(route: str | None) -> str:
    """Who works on a case with this route: the bureaudienst takes crisis
    and bureaudienst routes, the KCC reviews the rest."""
    return "bureaudienst" if route in ("bureaudienst", "crisis") else "kcc"


CASE_RX = re.compile(r"\b(SWT-\d{4}-\d{6})\b")


class Store:
    def __init__(self, url: str, retries: int = 5, retry_delay: float = 0.2):
        self.url = url
        self.retries = retries
        self.retry_delay = retry_delay
        # hide_parameters: errors and logs never show the values of a
        # statement (message text, addresses)
        kwargs: dict = {"pool_pre_ping": True, "hide_parameters": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        self.engine = create_engine(url, **kwargs)
        self._chat_answer_listeners: list = []  # on_chat_answer
        if url.startswith("sqlite"):
            @event.listens_for(self.engine, "connect")
            def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
                dbapi_conn.isolation_level = None  # transactions are begun below
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.close()

            @event.listens_for(self.engine, "begin")
            def _begin_immediate(conn):  # pragma: no cover - trivial
                # take the write lock at the start: concurrent writers wait
                # (busy_timeout) instead of failing on a lock upgrade, and the
                # case-number counter cannot be read by two writers at once
                conn.exec_driver_sql("BEGIN IMMEDIATE")

    # --------------------------------------------------------------- schema
    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as s:
            yield s

    def _retrying(self, fn):
        """Run ``fn`` (one transaction); retry while the database is briefly
        gone or locked. Raises StoreUnavailable when it stays gone."""
        delay = self.retry_delay
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except OperationalError as exc:
                if attempt == self.retries:
                    raise StoreUnavailable(f"database unavailable: {exc.__class__.__name__}") from exc
                log.warning("database unavailable (attempt %d), retrying", attempt + 1)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    # --------------------------------------------------------------- intake
    def save_inbound(self, *, kanaal: str, channel_message_id: str, idempotency_key: str, afzender: str | None,
                     afzender_naam: str | None, onderwerp: str, inhoud: str, raw: bytes | None,
                     in_reply_to: str | None = None, references: list | None = None, auto_reply: str | None = None,
                     problems: list | None = None, attachments: list | None = None,
                     actor: str = "system", status: str | None = None) -> tuple[InboundRecord, bool]:
        """Store a message durably. Returns (record, duplicate). ``status``:
        "received" (default: intake triages it) or e.g. "chat" (a chat
        message, handled by the conversation, never by intake)."""

        def tx():
            with self.session() as s:
                existing = s.exec(select(InboundRecord).where(InboundRecord.kanaal == kanaal,
                                                              InboundRecord.idempotency_key == idempotency_key)).first()
                if existing:
                    return existing, True
                rec = InboundRecord(kanaal=kanaal, channel_message_id=channel_message_id[:998],
                                    idempotency_key=idempotency_key[:255], afzender=afzender, afzender_naam=afzender_naam,
                                    onderwerp=onderwerp or "", inhoud=inhoud or "", raw=raw, in_reply_to=in_reply_to,
                                    references=list(references or []), auto_reply=auto_reply,
                                    problems=list(problems or []),
                                    status=status or ("ignored" if auto_reply else "received"))
                try:
                    s.add(rec)
                    s.flush()
                    for a in attachments or []:
                        s.add(AttachmentRecord(message_id=rec.id, filename=a.filename, content_type=a.content_type,
                                               size=a.size, data=a.data))
                    s.add(Event(actor=actor, action="message_received", message_id=rec.id,
                                detail={"kanaal": kanaal, "auto_reply": auto_reply,
                                        "attachments": len(attachments or [])}))
                    s.commit()
                except IntegrityError:  # a concurrent redelivery won the race
                    s.rollback()
                    again = s.exec(select(InboundRecord).where(InboundRecord.kanaal == kanaal,
                                                               InboundRecord.idempotency_key == idempotency_key)).one()
                    return again, True
                return rec, False

        return self._retrying(tx)

    def _next_number(self, s: Session) -> str:
        year = utcnow().year
        if self.url.startswith("sqlite"):
            counter = s.get(CaseCounter, year)
        else:
            # the year's first cases may be made at the same moment: make the row
            # without a conflict (a concurrent insert waits, then does nothing)
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            s.exec(pg_insert(CaseCounter).values(year=year, last=0).on_conflict_do_nothing(index_elements=["year"]))
            counter = s.exec(select(CaseCounter).where(CaseCounter.year == year).with_for_update()).first()
        if counter is None:
            counter = CaseCounter(year=year, last=0)
            s.add(counter)
        counter.last += 1
        s.add(counter)
        s.flush()
        return f"SWT-{year}-{counter.last:06d}"

    def find_case_for_reply(self, s: Session, subject: str, in_reply_to: str | None, references: list,
                            sender: str | None) -> tuple[Case | None, Case | None]:
        """(case to join, possibly related case). A reply joins a case only
        when the case reference (number in the subject, or In-Reply-To /
        References naming one of our messages) AND the sender match."""
        candidate = None
        ids = [x for x in [in_reply_to, *references] if x]
        if ids:
            out = s.exec(select(OutboundRecord).where(OutboundRecord.message_id.in_(ids))).first()
            if out and out.case_id:
                candidate = s.get(Case, out.case_id)
        if candidate is None:
            m = CASE_RX.search(subject or "")
            if m:
                candidate = s.exec(select(Case).where(Case.number == m.group(1))).first()
        if candidate is None:
            return None, None
        if sender and candidate.afzender and sender.lower() == candidate.afzender.lower() and candidate.anonymised_at is None:
            return candidate, None
        return None, candidate

    def record_triage(self, message_id: int, result, *, hulpvraag: str, replies: list[dict] | None = None,
                      actor: str = "system") -> IntakeResult:
        """Create (or join) the case for a stored message, with its
        startformulier and outbox replies, in one transaction."""

        def tx():
            with self.session() as s:
                msg = s.get(InboundRecord, message_id)
                if msg.case_id is not None:
                    case = s.get(Case, msg.case_id)
                    return IntakeResult(message_id, True, case.number, case.id)
                join, related = self.find_case_for_reply(s, msg.onderwerp, msg.in_reply_to, msg.references or [],
                                                         msg.afzender)
                if join is not None:
                    msg.case_id = join.id
                    msg.status = "triaged"
                    msg.triage = result.full()
                    if join.status in ("answered", "closed"):
                        join.status = "open"
                    if result.category == "crisis" and join.category != "crisis":
                        join.category, join.route, join.priority, join.queue = "crisis", "crisis", "spoed", "bureaudienst"
                    s.add_all([msg, join])
                    s.add(Event(actor=actor, action="message_joined_case", case_id=join.id, message_id=msg.id,
                                detail={"category": result.category}))
                    self._add_replies(s, join, msg, replies or [])
                    s.commit()
                    return IntakeResult(message_id, False, join.number, join.id)
                case = Case(number=self._next_number(s), kanaal=msg.kanaal, category=result.category,
                            domains=list(result.domains), confidence=result.confidence, route=result.route or "kcc_review",
                            priority=result.priority, destination=result.destination, answer_id=result.answer_id,
                            reasons=list(result.reasons), afzender=msg.afzender, wijk=result.wijk,
                            related_case_id=related.id if related else None,
                            # a phone note stays with the agent who typed it until the agent accepts
                            # or forwards the route (crisis goes to the bureaudienst at once)
                            queue="kcc" if msg.kanaal == "phone" and result.route != "crisis" else queue_for(result.route),
                            status="answered" if result.route == "auto_answer" else "open")
                s.add(case)
                s.flush()
                s.add(Startformulier(case_id=case.id, fields=dict(result.fields), evidence=dict(result.evidence),
                                     consent=result.consent, hulpvraag=hulpvraag))
                msg.case_id = case.id
                msg.status = "triaged"
                msg.triage = result.full()
                s.add(msg)
                s.add(Event(actor=actor, action="case_created", case_id=case.id, message_id=msg.id,
                            detail={"category": case.category, "route": case.route,
                                    "related_case": related.number if related else None}))
                self._add_replies(s, case, msg, replies or [])
                s.commit()
                return IntakeResult(message_id, False, case.number, case.id)

        return self._retrying(tx)

    def _add_replies(self, s: Session, case: Case, msg: InboundRecord, replies: list[dict]) -> None:
        for r in replies:
            s.add(OutboundRecord(case_id=case.id, kanaal=msg.kanaal, to=r["to"], subject=r["subject"].replace(
                "{case}", case.number), body=r["body"].replace("{case}", case.number), message_id=r["message_id"],
                in_reply_to=r.get("in_reply_to"), references=r.get("references", []), kind=r.get("kind", "ack"),
                status=r.get("status", "pending")))
            s.add(Event(actor="system", action="reply_queued", case_id=case.id,
                        detail={"kind": r.get("kind", "ack"), "status": r.get("status", "pending")}))

    def mark_failed(self, message_id: int, reason: str) -> None:
        def tx():
            with self.session() as s:
                msg = s.get(InboundRecord, message_id)
                msg.status = "failed"
                s.add(msg)
                s.add(Event(actor="system", action="triage_failed", message_id=message_id, detail={"reason": reason[:200]}))
                s.commit()
        self._retrying(tx)

    # ----------------------------------------------------------------- chat
    def conversation(self, kanaal: str, external_id: str) -> Conversation | None:
        with self.session() as s:
            return s.exec(select(Conversation).where(Conversation.kanaal == kanaal,
                                                     Conversation.external_id == external_id)).first()

    def create_conversation(self, kanaal: str, external_id: str, state: dict) -> tuple[Conversation, bool]:
        """Store a new conversation with its first state. Returns (row,
        created); when it exists already (a concurrent start) the stored row."""

        def tx():
            with self.session() as s:
                existing = s.exec(select(Conversation).where(Conversation.kanaal == kanaal,
                                                             Conversation.external_id == external_id)).first()
                if existing:
                    return existing, False
                conv = Conversation(kanaal=kanaal, external_id=external_id, state=state)
                try:
                    s.add(conv)
                    s.flush()
                    s.add(Event(actor=kanaal, action="conversation_started", detail={"kanaal": kanaal}))
                    s.commit()
                except IntegrityError:
                    s.rollback()
                    return s.exec(select(Conversation).where(Conversation.kanaal == kanaal,
                                                             Conversation.external_id == external_id)).one(), False
                return conv, True

        return self._retrying(tx)

    # save_chat_message and record_chat_turn run for every chat message: they
    # use plain SQLAlchemy Core statements on one connection (the ORM's session,
    # identity map and flush cost about twice as much, and on SQLite these
    # transactions run one after another). Only the rare turn that makes or
    # raises a case joins an ORM session to the same transaction.
    def _chat_insert(self):
        """INSERT INTO inbound_message ... ON CONFLICT (kanaal, idempotency_key)
        DO NOTHING RETURNING id, for this database (built once)."""
        stmt = getattr(self, "_sql_chat_insert", None)
        if stmt is None:
            if self.url.startswith("sqlite"):
                from sqlalchemy.dialects.sqlite import insert
            else:
                from sqlalchemy.dialects.postgresql import insert
            stmt = self._sql_chat_insert = insert(_INBOUND).on_conflict_do_nothing(
                index_elements=["kanaal", "idempotency_key"]).returning(_INBOUND.c.id)
        return stmt

    def save_chat_message(self, conv: Conversation, text: str, key: str) -> tuple[ChatMessage, bool]:
        """Store a resident's chat message durably (before it is handled):
        committed when this returns. ``key`` is unique per conversation
        message (Telegram update id, web message number); a redelivery
        returns the stored row (and ``True``). One INSERT ... ON CONFLICT DO
        NOTHING and the audit event, in one transaction."""
        channel_id = f"{conv.kanaal}:{conv.external_id}"[:998]
        ikey = f"{conv.kanaal}:{conv.external_id}:{key}"[:255]
        insert = self._chat_insert()

        def tx():
            now = utcnow()
            with self.engine.begin() as conn:
                new_id = conn.execute(insert, {
                    "kanaal": "chat", "channel_message_id": channel_id, "idempotency_key": ikey, "afzender": None,
                    "afzender_naam": None, "onderwerp": "", "inhoud": text or "", "raw": None, "in_reply_to": None,
                    "references": [], "auto_reply": None, "problems": [], "received_at": now, "status": "chat",
                    "triage": None, "case_id": None}).scalar()
                if new_id is None:  # delivered before
                    row = conn.execute(_SQL_CHAT_STORED, {"b_key": ikey}).one()
                    return ChatMessage(row.id, "chat", channel_id, ikey, row.inhoud, row.status, row.case_id), True
                conn.execute(_SQL_EVENT, {"at": now, "actor": conv.kanaal, "action": "message_received",
                                          "case_id": None, "message_id": new_id,
                                          "detail": {"kanaal": "chat", "auto_reply": None, "attachments": 0}})
            return ChatMessage(new_id, "chat", channel_id, ikey, text or "", "chat"), False

        return self._retrying(tx)

    def record_chat_turn(self, conversation_id: int, message_id: int | None, state, actions: list[dict]) -> ChatTurn:
        """Carry out the conversation engine's actions for one message in one
        transaction: create or raise the case with its startformulier, join
        messages to it, write the events (no personal data) and save the new
        state. ``state``: the engine's ConversationState after the message;
        a copy with the case number filled in is saved and returned."""
        sqlite = self.url.startswith("sqlite")

        def tx():
            st = state.copy()
            with self.engine.begin() as conn:
                kanaal, external_id, conv_case_id, since = conn.execute(
                    _SQL_TURN_CONV if sqlite else _SQL_TURN_CONV_LOCKED, {"b_id": conversation_id}).one()
                case = None  # {"id", "number", "status"} of the conversation's case
                if conv_case_id:
                    row = conn.execute(_SQL_TURN_CASE, {"b_id": conv_case_id}).first()
                    case = dict(row._mapping) if row is not None else None
                created = False
                session = None
                actor = kanaal

                def event(action: str, case_id: int | None, detail: dict) -> None:
                    conn.execute(_SQL_EVENT, {"at": utcnow(), "actor": actor, "action": action, "case_id": case_id,
                                              "message_id": message_id, "detail": detail})

                try:
                    for a in actions:
                        kind = a["type"]
                        if kind == "restart":
                            case, conv_case_id = None, None
                            since = (message_id or 0) + 1
                            event("chat_restarted", None, {})
                        elif kind in ("escalate_crisis", "create_case"):
                            # rare (a case is made or raised): the ORM helpers, in this transaction
                            if session is None:
                                session = Session(bind=conn, expire_on_commit=False)
                            if case is None:
                                conv = Conversation(id=conversation_id, kanaal=kanaal, external_id=external_id,
                                                    case_id=conv_case_id, since_message_id=since)
                                c = self._chat_case(session, conv, a)
                                created = True
                            else:
                                c = session.get(Case, case["id"])
                                self._update_chat_case(session, c, a, actor, message_id)
                            session.flush()
                            case = {"id": c.id, "number": c.number, "status": c.status}
                            conv_case_id = c.id
                            st.set_case_number(c.number)
                        elif kind == "add_message" and case is not None:
                            if case["status"] in ("answered", "closed"):
                                conn.execute(_SQL_CASE_SET, {"b_id": case["id"], "status": "open", "closed_at": None})
                                case["status"] = "open"
                            event("message_joined_case", case["id"], {"kanaal": kanaal})
                        elif kind in ("answered", "answer_feedback", "end", "refused"):
                            event(f"chat_{kind}", case["id"] if case else None,
                                  {k: a[k] for k in ("answer_id", "helpful", "reason") if k in a})
                finally:
                    if session is not None:
                        session.close()
                if message_id:
                    conn.execute(_SQL_MESSAGE_SET, {"b_id": message_id, "status": "triaged",
                                                    "case_id": case["id"] if case else None})
                conn.execute(_SQL_CONV_SET, {
                    "b_id": conversation_id, "state": st.to_dict(), "updated_at": utcnow(), "case_id": conv_case_id,
                    "since_message_id": since, "status": {"gestopt": "gestopt", "klaar": "klaar"}.get(st.step, "open")})
            return ChatTurn(st, case["number"] if case else None, case["id"] if case else None, created)

        return self._retrying(tx)

    def _chat_case(self, s: Session, conv: Conversation, a: dict) -> Case:
        crisis = a["type"] == "escalate_crisis" or a.get("category") == "crisis"
        case = Case(number=self._next_number(s), kanaal="chat", category="crisis" if crisis else a.get("category") or "info_advies",
                    domains=list(a.get("domains") or []), confidence=float(a.get("confidence") or 0.0),
                    route="crisis" if crisis else (a.get("route") or "kcc_review"),
                    priority="spoed" if crisis else a.get("priority"),
                    destination=(a.get("destination") or ("Bureaudienst (crisis)" if crisis else None)),
                    answer_id=a.get("answer_id"), reasons=list(a.get("reasons") or []), wijk=a.get("wijk"),
                    status="open")
        case.queue = queue_for(case.route)
        s.add(case)
        s.flush()
        s.add(Startformulier(case_id=case.id, fields=dict(a.get("fields") or {}), consent=a.get("consent") or "onbekend",
                             hulpvraag=a.get("hulpvraag") or ""))
        # the conversation's messages about this question join the case
        q = select(InboundRecord).where(InboundRecord.kanaal == "chat",
                                        InboundRecord.channel_message_id == f"{conv.kanaal}:{conv.external_id}",
                                        InboundRecord.case_id == None)  # noqa: E711
        if conv.since_message_id:
            q = q.where(InboundRecord.id >= conv.since_message_id)
        for m in s.exec(q).all():
            m.case_id = case.id
            s.add(m)
        s.add(Event(actor=conv.kanaal, action="case_created", case_id=case.id,
                    detail={"kanaal": conv.kanaal, "category": case.category, "route": case.route,
                            "priority": case.priority}))
        return case

    def _update_chat_case(self, s: Session, case: Case, a: dict, actor: str, message_id: int | None) -> None:
        crisis = a["type"] == "escalate_crisis" or a.get("category") == "crisis"
        was_crisis = case.category == "crisis"
        for d in a.get("domains") or []:
            if d not in case.domains:
                case.domains = [*case.domains, d]
        if crisis and not was_crisis:
            case.category, case.route, case.priority, case.queue = "crisis", "crisis", "spoed", "bureaudienst"
            case.destination = a.get("destination") or "Bureaudienst (crisis)"
            s.add(Event(actor=actor, action="case_escalated_crisis", case_id=case.id, message_id=message_id,
                        detail={"category": "crisis", "route": "crisis", "priority": "spoed"}))
        if case.status in ("answered", "closed"):
            case.status, case.closed_at = "open", None
        if a.get("wijk") and not case.wijk:
            case.wijk = a["wijk"]
        s.add(case)
        form = s.exec(select(Startformulier).where(Startformulier.case_id == case.id)).first()
        if form is None:
            form = Startformulier(case_id=case.id)
        form.fields = {**(form.fields or {}), **dict(a.get("fields") or {})}
        if a.get("consent"):
            form.consent = a["consent"]
        if a.get("hulpvraag"):
            form.hulpvraag = a["hulpvraag"]
        form.updated_at = utcnow()
        s.add(form)
        if a["type"] == "create_case":
            s.add(Event(actor=actor, action="startformulier_completed", case_id=case.id, message_id=message_id,
                        detail={"consent": form.consent}))
        elif a["type"] == "escalate_crisis" and was_crisis:
            s.add(Event(actor=actor, action="crisis_repeated", case_id=case.id, message_id=message_id, detail={}))

    # ------------------------------------------------ chat: the KCC's answers
    # An answer a KCC agent writes for a chat case (send_answer) is an
    # OutboundRecord with kanaal "webchat"/"telegram", ``to`` the conversation's
    # external id, status "pending" until the chat channel delivered it.
    CHAT_ANSWER_ATTEMPTS = 10

    def on_chat_answer(self, listener) -> None:
        """Call ``listener(kanaal, external_id)`` after :meth:`send_answer`
        committed an answer for a chat, so the channel can deliver it at once
        rather than at its next look. Runs in the sender's thread: it must be
        quick; what it raises is logged and ignored."""
        self._chat_answer_listeners.append(listener)

    def off_chat_answer(self, listener) -> None:
        with contextlib.suppress(ValueError):
            self._chat_answer_listeners.remove(listener)

    def _chat_answer_queued(self, kanaal: str, external_id: str) -> None:
        for listener in list(self._chat_answer_listeners):
            try:
                listener(kanaal, external_id)
            except Exception as exc:  # the answer is stored: the channel's next look finds it
                log.warning("chat answer listener failed (%s)", type(exc).__name__)

    def pending_chat_answers(self, kanaal: str, external_id: str | list[str] | None = None,
                             limit: int = 100) -> list[OutboundRecord]:
        """KCC answers for chats of ``kanaal`` that did not reach the resident
        yet, oldest first; ``external_id``: only for this conversation (or
        these). An answer whose case was anonymised (no address) is left out."""
        ids = [external_id] if isinstance(external_id, str) else external_id
        if ids is not None and not ids:
            return []
        base = select(OutboundRecord).where(OutboundRecord.kanaal == kanaal, OutboundRecord.status == "pending",
                                            OutboundRecord.to != "")
        with self.session() as s:
            if ids is None:
                return list(s.exec(base.order_by(OutboundRecord.id).limit(limit)).all())
            rows: list[OutboundRecord] = []
            for i in range(0, len(ids), 500):
                rows += s.exec(base.where(OutboundRecord.to.in_(ids[i:i + 500])).order_by(OutboundRecord.id)
                               .limit(limit)).all()
        return sorted(rows, key=lambda o: o.id)[:limit]

    def chat_answer_delivered(self, outbound_id: int, text: str) -> bool:
        """A chat answer reached the resident's chat (call it only after the
        send succeeded): mark it sent and add ``text``, as the resident read
        it, to the conversation's transcript (role "medewerker") so that a
        resumed conversation shows it, in one transaction. False when it was
        not pending any more (nothing changes). The caller keeps the
        conversation engine from saving the same conversation meanwhile
        (ChatService.answer_delivered holds the conversation's lock)."""
        from .conversation import MAX_TRANSCRIPT

        def tx():
            with self.session() as s:
                q = select(OutboundRecord).where(OutboundRecord.id == outbound_id)
                if not self.url.startswith("sqlite"):
                    q = q.with_for_update()
                o = s.exec(q).first()
                if o is None or o.status != "pending":
                    return False
                o.attempts += 1
                o.status, o.sent_at, o.last_error = "sent", utcnow(), None
                s.add(o)
                q = select(Conversation).where(Conversation.kanaal == o.kanaal, Conversation.external_id == o.to)
                if not self.url.startswith("sqlite"):
                    q = q.with_for_update()
                conv = s.exec(q).first()
                if conv is not None and conv.state:  # a wiped conversation (retention) keeps nothing
                    transcript = [*conv.state.get("transcript", []), ["medewerker", text]][-MAX_TRANSCRIPT:]
                    conv.state = {**conv.state, "transcript": transcript}
                    conv.updated_at = utcnow()
                    s.add(conv)
                s.add(Event(actor=o.kanaal, action="reply_sent", case_id=o.case_id,
                            detail={"kanaal": o.kanaal, "kind": o.kind, "attempt": o.attempts}))
                s.commit()
                return True

        return self._retrying(tx)

    def chat_answer_failed(self, outbound_id: int, error: str, *, final: bool = False,
                           max_attempts: int | None = None) -> str:
        """A try to deliver a chat answer failed (``error``: a type name, no
        personal data). After ``max_attempts`` tries, or at once when
        ``final`` (the chat refuses it), the answer is "failed" and the
        console shows it; otherwise it stays "pending". Returns the status."""
        limit = max_attempts or self.CHAT_ANSWER_ATTEMPTS

        def tx():
            with self.session() as s:
                o = s.get(OutboundRecord, outbound_id)
                if o is None or o.status != "pending":
                    return o.status if o is not None else "gone"
                o.attempts += 1
                o.last_error = (error or "")[:500]
                if final or o.attempts >= limit:
                    o.status = "failed"
                s.add(o)
                s.add(Event(actor=o.kanaal, action="reply_failed", case_id=o.case_id,
                            detail={"kanaal": o.kanaal, "attempt": o.attempts, "given_up": o.status == "failed"}))
                s.commit()
                return o.status

        return self._retrying(tx)

    def case_number(self, case_id: int | None) -> str | None:
        if case_id is None:
            return None
        with self.session() as s:
            c = s.get(Case, case_id)
            return c.number if c else None

    def pending_messages(self) -> list[int]:
        """Stored messages that were not triaged yet (e.g. after a crash)."""
        with self.session() as s:
            return list(s.exec(select(InboundRecord.id).where(InboundRecord.status == "received")).all())

    def replies_sent_since(self, to: str, since: datetime) -> int:
        with self.session() as s:
            return s.exec(select(func.count()).select_from(OutboundRecord).where(
                OutboundRecord.to == to, OutboundRecord.created_at >= since,
                OutboundRecord.status.in_(("pending", "sent")))).one()

    # --------------------------------------------------------------- outbox
    def outbox(self, limit: int = 50, kanaal: str = "email") -> list[OutboundRecord]:
        with self.session() as s:
            return list(s.exec(select(OutboundRecord).where(OutboundRecord.status == "pending",
                                                            OutboundRecord.kanaal == kanaal)
                               .order_by(OutboundRecord.kind != "crisis", OutboundRecord.id).limit(limit)).all())

    def mark_sent(self, outbound_id: int, ok: bool, error: str | None = None) -> None:
        def tx():
            with self.session() as s:
                o = s.get(OutboundRecord, outbound_id)
                o.attempts += 1
                if ok:
                    o.status, o.sent_at = "sent", utcnow()
                else:
                    o.last_error = (error or "")[:500]
                    if o.attempts >= 8:
                        o.status = "failed"
                s.add(o)
                s.add(Event(actor="system", action="reply_sent" if ok else "reply_failed", case_id=o.case_id,
                            detail={"attempt": o.attempts}))
                s.commit()
        self._retrying(tx)

    # ------------------------------------------------------------ read side
    def list_messages(self) -> list[dict]:
        with self.session() as s:
            rows = s.exec(select(InboundRecord, Case.number).join(Case, InboundRecord.case_id == Case.id, isouter=True)
                          .order_by(InboundRecord.id)).all()
            return [{"id": m.id, "kanaal": m.kanaal, "channel_message_id": m.channel_message_id,
                     "received_at": m.received_at.isoformat(), "status": m.status, "auto_reply": m.auto_reply,
                     "case_number": number} for m, number in rows]

    def list_cases(self) -> list[dict]:
        with self.session() as s:
            return [self._case_summary(c) for c in s.exec(select(Case).order_by(Case.id)).all()]

    @staticmethod
    def _case_summary(c: Case) -> dict:
        return {"number": c.number, "created_at": c.created_at.isoformat(), "kanaal": c.kanaal, "category": c.category,
                "domains": c.domains, "route": c.route, "priority": c.priority, "destination": c.destination,
                "status": c.status, "wijk": c.wijk, "related_case_id": c.related_case_id}

    def show_case(self, number: str, actor: str) -> dict | None:
        """A case with its startformulier and messages. Viewing is an audit event."""
        with self.session() as s:
            c = s.exec(select(Case).where(Case.number == number)).first()
            if c is None:
                return None
            form = s.exec(select(Startformulier).where(Startformulier.case_id == c.id)).first()
            msgs = s.exec(select(InboundRecord).where(InboundRecord.case_id == c.id).order_by(InboundRecord.id)).all()
            outs = s.exec(select(OutboundRecord).where(OutboundRecord.case_id == c.id).order_by(OutboundRecord.id)).all()
            s.add(Event(actor=actor, action="case_viewed", case_id=c.id, detail={}))
            s.commit()
            return {**self._case_summary(c), "reasons": c.reasons, "answer_id": c.answer_id,
                    "startformulier": {"fields": form.fields, "consent": form.consent, "hulpvraag": form.hulpvraag,
                                       "evidence": form.evidence} if form else None,
                    "messages": [{"id": m.id, "received_at": m.received_at.isoformat(), "afzender": m.afzender,
                                  "onderwerp": m.onderwerp, "inhoud": m.inhoud} for m in msgs],
                    "replies": [{"to": o.to, "subject": o.subject, "kind": o.kind, "status": o.status} for o in outs]}

    # ------------------------------------------------------- console: accounts
    def add_user(self, username: str, role: str, password_hash: str, display_name: str = "",
                 actor: str = "cli") -> User:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")

        def tx():
            with self.session() as s:
                if s.exec(select(User).where(User.username == username)).first():
                    raise ValueError(f"user {username!r} exists already")
                u = User(username=username, role=role, password_hash=password_hash, display_name=display_name or username)
                s.add(u)
                s.flush()
                s.add(Event(actor=actor, action="user_added", detail={"user": username, "role": role}))
                s.commit()
                return u
        return self._retrying(tx)

    def user_by_name(self, username: str) -> User | None:
        with self.session() as s:
            return s.exec(select(User).where(User.username == username)).first()

    def list_users(self) -> list[User]:
        with self.session() as s:
            return list(s.exec(select(User).order_by(User.username)).all())

    def update_user(self, username: str, actor: str, *, password_hash: str | None = None, active: bool | None = None,
                    role: str | None = None) -> User:
        def tx():
            with self.session() as s:
                u = s.exec(select(User).where(User.username == username)).first()
                if u is None:
                    raise ValueError(f"no user {username!r}")
                changed = []
                if password_hash is not None:
                    u.password_hash = password_hash
                    changed.append("password")
                if active is not None and active != u.active:
                    u.active = active
                    changed.append("active")
                if role is not None and role != u.role:
                    if role not in ROLES:
                        raise ValueError(f"role must be one of {', '.join(ROLES)}")
                    u.role = role
                    changed.append("role")
                s.add(u)
                if password_hash is not None or active is False or role is not None:
                    # a new password, a blocked account or a new role ends every login
                    for ws in s.exec(select(WebSession).where(WebSession.user_id == u.id)).all():
                        s.delete(ws)
                s.add(Event(actor=actor, action="user_changed", detail={"user": username, "changed": changed}))
                s.commit()
                return u
        return self._retrying(tx)

    def start_session(self, user_id: int, token_hash: str, csrf: str, expires_at: datetime) -> None:
        def tx():
            with self.session() as s:
                u = s.get(User, user_id)
                u.last_login_at = utcnow()
                s.add(u)
                s.add(WebSession(token_hash=token_hash, user_id=user_id, csrf=csrf, expires_at=expires_at))
                s.add(Event(actor=u.username, action="login", detail={}))
                # expired logins are cleaned up on the way
                for old in s.exec(select(WebSession).where(WebSession.expires_at < utcnow())).all():
                    s.delete(old)
                s.commit()
        self._retrying(tx)

    def session_user(self, token_hash: str, idle_minutes: int | None = None) -> tuple[User, WebSession] | None:
        """The active user of a login, or None when it is unknown, expired,
        idle too long or the account is blocked. Touches last_seen at most
        once a minute."""
        with self.session() as s:
            row = s.exec(select(WebSession, User).join(User, WebSession.user_id == User.id)
                         .where(WebSession.token_hash == token_hash)).first()
            if row is None:
                return None
            ws, u = row
            now = utcnow()
            if not u.active or _aware(ws.expires_at) < now or (
                    idle_minutes and _aware(ws.last_seen_at) < now - timedelta(minutes=idle_minutes)):
                return None
            if _aware(ws.last_seen_at) < now - timedelta(seconds=60):
                try:
                    ws.last_seen_at = now
                    s.add(ws)
                    s.commit()
                except OperationalError:  # a busy database must not end the request
                    s.rollback()
            return u, ws

    def end_session(self, token_hash: str, actor: str) -> None:
        def tx():
            with self.session() as s:
                for ws in s.exec(select(WebSession).where(WebSession.token_hash == token_hash)).all():
                    s.delete(ws)
                s.add(Event(actor=actor, action="logout", detail={}))
                s.commit()
        self._retrying(tx)

    def audit(self, actor: str, action: str, *, case_id: int | None = None, detail: dict | None = None) -> None:
        """An audit event on its own (a list viewed, an export made)."""
        def tx():
            with self.session() as s:
                s.add(Event(actor=actor, action=action, case_id=case_id, detail=detail or {}))
                s.commit()
        self._retrying(tx)

    # ------------------------------------------------------ console: case work
    @staticmethod
    def _get_case(s: Session, number: str) -> Case:
        c = s.exec(select(Case).where(Case.number == number)).first()
        if c is None:
            raise CaseNotFound(number)
        if c.anonymised_at is not None:
            raise CaseConflict("Deze zaak is geanonimiseerd en kan niet meer worden gewijzigd.")
        return c

    def _change(self, number: str, fn):
        """Run ``fn(session, case)`` on one case in one transaction."""
        def tx():
            with self.session() as s:
                c = self._get_case(s, number)
                out = fn(s, c)
                c.updated_at = utcnow()
                s.add(c)
                s.commit()
                return out if out is not None else c
        return self._retrying(tx)

    def accept_route(self, number: str, actor: str) -> Case:
        """KCC: the suggested route is right. A case for the bureaudienst
        moves to its queue; an information question stays with the KCC."""
        def fn(s, c):
            if c.queue != "kcc":
                raise CaseConflict("Deze zaak ligt niet (meer) bij het KCC.")
            c.review, c.reviewed_by, c.reviewed_at = "accepted", actor, utcnow()
            c.queue = queue_for(c.route)
            s.add(Event(actor=actor, action="route_accepted", case_id=c.id,
                        detail={"route": c.route, "category": c.category}))
        return self._change(number, fn)

    def correct_case(self, number: str, actor: str, *, category: str | None = None,
                     domains: list[str] | None = None) -> Case:
        """KCC or bureaudienst: a corrected category and/or domains. Each
        change is kept as a Correction (the next training run learns from
        it). The route follows a corrected category."""
        def fn(s, c):
            changed = []
            if category is not None and category != c.category:
                if category not in CATEGORIES:
                    raise ValueError(f"onbekende categorie: {category}")
                s.add(Correction(actor=actor, case_id=c.id, field="category", old=c.category, new=category))
                c.category = category
                c.route = ROUTE_FOR_CATEGORY[category]
                if category == "crisis":
                    c.priority = "spoed"
                changed.append("category")
            if domains is not None:
                new = sorted(dict.fromkeys(domains))
                bad = [d for d in new if d not in DOMAINS]
                if bad:
                    raise ValueError(f"onbekend domein: {', '.join(bad)}")
                if new != sorted(c.domains or []):
                    s.add(Correction(actor=actor, case_id=c.id, field="domains", old=list(c.domains or []), new=new))
                    c.domains = new
                    changed.append("domains")
            if not changed:
                return c
            if c.queue == "kcc":
                c.review, c.reviewed_by, c.reviewed_at = "corrected", actor, utcnow()
                c.queue = queue_for(c.route)
            if c.category == "crisis":
                c.queue = "bureaudienst"
            s.add(Event(actor=actor, action="case_corrected", case_id=c.id,
                        detail={"changed": changed, "category": c.category, "domains": c.domains, "route": c.route}))
        return self._change(number, fn)

    def forward_case(self, number: str, actor: str, remark: str | None = None) -> Case:
        """KCC: pass the case to the bureaudienst."""
        def fn(s, c):
            if c.queue != "kcc":
                raise CaseConflict("Deze zaak ligt al bij de bureaudienst.")
            c.queue, c.route = "bureaudienst", ("crisis" if c.category == "crisis" else "bureaudienst")
            if c.priority is None:
                c.priority = "spoed" if c.category == "crisis" else "normaal"
            c.review, c.reviewed_by, c.reviewed_at = "forwarded", actor, utcnow()
            if c.status == "answered":
                c.status = "open"
            if remark:
                c.remark = remark[:2000]
            s.add(Event(actor=actor, action="case_forwarded", case_id=c.id, detail={"remark": bool(remark)}))
        return self._change(number, fn)

    def send_answer(self, number: str, actor: str, *, body: str, subject: str | None = None,
                    msgid_domain: str = "localhost") -> OutboundRecord:
        """KCC: an answer, edited by the agent, goes out through the channel
        the question came from (mail: the outbox; chat: a pending answer that
        the chat channel delivers into the conversation, see
        pending_chat_answers). A phone case has no written channel:
        CaseConflict."""
        if not body.strip():
            raise ValueError("Het antwoord is leeg.")

        def fn(s, c):
            first = s.exec(select(InboundRecord).where(InboundRecord.case_id == c.id).order_by(InboundRecord.id)).first()
            if c.kanaal == "email":
                if not c.afzender:
                    raise CaseConflict("Deze mail heeft geen afzenderadres: bel de inwoner of stuur een brief.")
                base = (first.onderwerp if first else "") or "Uw bericht aan het Sociaal Wijkteam"
                subj = subject or (base if base.lower().startswith("re:") else f"Re: {base}")
                if c.number not in subj:
                    subj = f"[{c.number}] {subj}"
                refs = list(first.references or []) if first else []
                in_reply_to = first.channel_message_id if first and "@" in first.channel_message_id else None
                if in_reply_to and in_reply_to not in refs:
                    refs.append(in_reply_to)
                out = OutboundRecord(case_id=c.id, kanaal="email", to=c.afzender, subject=subj, body=body,
                                     message_id=make_msgid(domain=msgid_domain).strip("<>"), in_reply_to=in_reply_to, references=refs,
                                     kind="answer", status="pending")
            elif c.kanaal == "chat":
                conv = s.exec(select(Conversation).where(Conversation.case_id == c.id)).first()
                if conv is None:
                    raise CaseConflict("Het chatgesprek van deze zaak bestaat niet meer.")
                out = OutboundRecord(case_id=c.id, kanaal=conv.kanaal, to=conv.external_id, subject="", body=body,
                                     message_id=f"{conv.kanaal}:{conv.id}:{utcnow().timestamp()}", kind="answer",
                                     status="pending")
            else:
                raise CaseConflict("Een telefoonnotitie heeft geen schriftelijk kanaal: bel de inwoner terug.")
            s.add(out)
            c.status = "answered"
            if c.queue == "kcc" and c.review is None:
                c.review, c.reviewed_by, c.reviewed_at = "answered", actor, utcnow()
            s.add(Event(actor=actor, action="answer_sent", case_id=c.id, detail={"kanaal": out.kanaal}))
            return out
        out = self._change(number, fn)
        if out.kanaal in ("webchat", "telegram"):  # committed: the chat channel may deliver it now
            self._chat_answer_queued(out.kanaal, out.to)
        return out

    def update_startformulier(self, number: str, actor: str, *, fields: dict, consent: str | None = None,
                              hulpvraag: str | None = None, wijk: str | None = None) -> Startformulier:
        """KCC or bureaudienst: the startformulier as completed by a person.
        ``fields`` must be validated by the caller (triage.forms). Empty
        values remove a field. Each changed field is a Correction. ``wijk``: the
        wijk of the (new) postcode, from the municipality's table."""
        def fn(s, c):
            form = s.exec(select(Startformulier).where(Startformulier.case_id == c.id)).first()
            if form is None:
                form = Startformulier(case_id=c.id)
            old = dict(form.fields or {})
            new = {k: v for k, v in {**old, **fields}.items() if v not in (None, "", [])}
            changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            for k in changed:
                s.add(Correction(actor=actor, case_id=c.id, field=f"startformulier.{k}", old=old.get(k), new=new.get(k)))
            form.fields = new
            if consent is not None and consent != form.consent:
                if consent not in ("ja", "nee", "onbekend"):
                    raise ValueError("toestemming is ja, nee of onbekend")
                s.add(Correction(actor=actor, case_id=c.id, field="startformulier.consent", old=form.consent, new=consent))
                form.consent = consent
                changed.append("consent")
            if hulpvraag is not None and hulpvraag != form.hulpvraag:
                form.hulpvraag = hulpvraag[:5000]
                changed.append("hulpvraag")
            form.updated_at = utcnow()
            s.add(form)
            if wijk and wijk != c.wijk:
                c.wijk = wijk
            s.add(Event(actor=actor, action="startformulier_changed", case_id=c.id, detail={"changed": changed}))
            return form
        return self._change(number, fn)

    def accept_case(self, number: str, actor: str, *, assigned_to: str) -> Case:
        """Bureaudienst: take the case and give it to a wijkteam member."""
        if not assigned_to.strip():
            raise ValueError("Kies een medewerker van het wijkteam.")

        def fn(s, c):
            if c.queue != "bureaudienst":
                raise CaseConflict("Deze zaak ligt niet bij de bureaudienst.")
            if c.status == "closed":
                raise CaseConflict("Deze zaak is al gesloten.")
            if c.status == "accepted":
                who = f" door {c.accepted_by}" if c.accepted_by else ""
                raise CaseConflict(f"Deze zaak is al aangenomen{who}.")
            c.status, c.accepted_by, c.accepted_at, c.assigned_to = "accepted", actor, utcnow(), assigned_to.strip()[:100]
            s.add(Event(actor=actor, action="case_accepted", case_id=c.id, detail={"assigned_to": c.assigned_to}))
        return self._change(number, fn)

    def return_case(self, number: str, actor: str, *, remark: str) -> Case:
        """Bureaudienst: back to the KCC with a remark."""
        if not remark.strip():
            raise ValueError("Schrijf erbij waarom de zaak terug gaat naar het KCC.")

        def fn(s, c):
            if c.queue != "bureaudienst":
                raise CaseConflict("Deze zaak ligt niet bij de bureaudienst.")
            if c.category == "crisis":
                raise CaseConflict("Een crisis blijft bij de bureaudienst.")
            c.queue, c.remark, c.review, c.status = "kcc", remark.strip()[:2000], None, "open"
            c.route = "kcc_review"
            s.add(Event(actor=actor, action="case_returned", case_id=c.id, detail={}))
        return self._change(number, fn)

    def finish_case(self, number: str, actor: str, *, indicatie: bool | None = None, queue: str | None = None) -> Case:
        """Close a case (bureaudienst after the hand-over, or the KCC after
        an answer). ``indicatie``: the pilot report's 'with indication'.
        ``queue``: close only while the case is in this queue (checked in
        the same transaction, so a colleague's move in between wins)."""
        def fn(s, c):
            if queue is not None and c.queue != queue:
                raise CaseConflict("Deze zaak is intussen verplaatst en ligt niet meer bij u.")
            if c.status == "closed":
                raise CaseConflict("Deze zaak is al gesloten.")
            c.status, c.closed_at, c.indicatie = "closed", utcnow(), indicatie
            s.add(Event(actor=actor, action="case_closed", case_id=c.id, detail={"indicatie": indicatie}))
        return self._change(number, fn)

    # ------------------------------------------------------------ retention
    def run_retention(self, older_than_days: int, mode: str = "anonymise", actor: str = "retention") -> int:
        """Anonymise (or delete) cases closed longer ago than the period.
        Returns the number of cases handled. The deletion log keeps the case
        number, the closing date and counts: no personal data."""
        if mode not in ("anonymise", "delete"):
            raise ValueError("mode must be 'anonymise' or 'delete'")
        cutoff = utcnow() - timedelta(days=older_than_days)

        def tx():
            with self.session() as s:
                cases = s.exec(select(Case).where(Case.status == "closed", Case.closed_at != None,  # noqa: E711
                                                  Case.closed_at < cutoff, Case.anonymised_at == None)).all()  # noqa: E711
                for c in cases:
                    msgs = s.exec(select(InboundRecord).where(InboundRecord.case_id == c.id)).all()
                    n_att = 0
                    for m in msgs:
                        atts = s.exec(select(AttachmentRecord).where(AttachmentRecord.message_id == m.id)).all()
                        n_att += len(atts)
                        for a in atts:
                            s.delete(a)
                        m.raw, m.inhoud, m.onderwerp, m.afzender, m.afzender_naam = None, "", "", None, None
                        m.triage, m.references, m.in_reply_to = None, [], None
                        s.add(m)
                    form = s.exec(select(Startformulier).where(Startformulier.case_id == c.id)).first()
                    outs = s.exec(select(OutboundRecord).where(OutboundRecord.case_id == c.id)).all()
                    corrs = s.exec(select(Correction).where(Correction.case_id == c.id)).all()
                    if mode == "anonymise":
                        if form:
                            form.fields, form.evidence, form.hulpvraag = {}, {}, ""
                            s.add(form)
                        for o in outs:
                            o.to, o.body, o.subject = "", "", ""
                            s.add(o)
                        for corr in corrs:
                            corr.old = corr.new = None
                            s.add(corr)
                    for conv in s.exec(select(Conversation).where(Conversation.case_id == c.id)).all():
                        # the chat transcript holds personal data: a later message starts afresh
                        conv.state, conv.status = {}, "gewist"
                        if mode == "delete":
                            conv.case_id = None
                        s.add(conv)
                    if mode == "delete":
                        for row in (*outs, *corrs):
                            s.delete(row)
                        if form:
                            s.delete(form)
                        for ev in s.exec(select(Event).where(Event.case_id == c.id)).all():
                            s.delete(ev)
                        for m in msgs:
                            for ev in s.exec(select(Event).where(Event.message_id == m.id)).all():
                                s.delete(ev)
                            s.delete(m)
                        for other in s.exec(select(Case).where(Case.related_case_id == c.id)).all():
                            other.related_case_id = None
                            s.add(other)
                        s.flush()
                        s.delete(c)
                        s.add(DeletionLog(case_number=c.number, closed_at=c.closed_at, action="deleted",
                                          messages=len(msgs), attachments=n_att))
                        s.add(Event(actor=actor, action="case_deleted", detail={"case_number": c.number}))
                        continue
                    c.afzender, c.reasons, c.remark, c.anonymised_at = None, [], None, utcnow()
                    s.add(c)
                    s.add(DeletionLog(case_number=c.number, closed_at=c.closed_at, action="anonymised",
                                      messages=len(msgs), attachments=n_att))
                    s.add(Event(actor=actor, action="case_anonymised", case_id=c.id, detail={}))
                s.commit()
                return len(cases)

        return self._retrying(tx)

    def run_chat_retention(self, older_than_days: int, actor: str = "retention") -> tuple[int, int]:
        """Delete chat conversations that never became a case and were not
        updated for the period: the conversation (its state and transcript)
        and its messages without a case, also such messages whose
        conversation is gone. Messages that belong to a case stay (case
        retention handles them). Audit events stay, without the link to a
        deleted message; one event holds the counts. Returns (conversations,
        messages) deleted."""
        from sqlalchemy import delete, exists, update

        cutoff = utcnow() - timedelta(days=older_than_days)

        def tx():
            with self.session() as s:
                convs = s.exec(select(Conversation).where(Conversation.case_id == None,  # noqa: E711
                                                          Conversation.updated_at < cutoff)).all()
                keys = [f"{c.kanaal}:{c.external_id}" for c in convs]
                chat_no_case = (InboundRecord.kanaal == "chat", InboundRecord.case_id == None)  # noqa: E711
                ids: list[int] = []
                for i in range(0, len(keys), 500):
                    ids += s.exec(select(InboundRecord.id).where(*chat_no_case,
                                                                 InboundRecord.channel_message_id.in_(keys[i:i + 500]))).all()
                has_conv = exists().where(Conversation.kanaal + ":" + Conversation.external_id
                                          == InboundRecord.channel_message_id)
                ids += s.exec(select(InboundRecord.id).where(*chat_no_case, InboundRecord.received_at < cutoff,
                                                             ~has_conv)).all()
                for i in range(0, len(ids), 500):
                    chunk = ids[i:i + 500]
                    s.exec(update(Event).where(Event.message_id.in_(chunk)).values(message_id=None))
                    s.exec(delete(AttachmentRecord).where(AttachmentRecord.message_id.in_(chunk)))
                    s.exec(delete(InboundRecord).where(InboundRecord.id.in_(chunk)))
                for c in convs:
                    s.delete(c)
                if convs or ids:
                    s.add(Event(actor=actor, action="chat_conversations_deleted",
                                detail={"conversations": len(convs), "messages": len(ids), "days": older_than_days}))
                s.commit()
                return len(convs), len(ids)

        return self._retrying(tx)

    def close_case(self, number: str, actor: str, when: datetime | None = None) -> None:
        def tx():
            with self.session() as s:
                c = s.exec(select(Case).where(Case.number == number)).one()
                c.status, c.closed_at = "closed", _aware(when) if when else utcnow()
                s.add(c)
                s.add(Event(actor=actor, action="case_closed", case_id=c.id, detail={}))
                s.commit()
        self._retrying(tx)

    # ------------------------------------------------------------------ IMAP
    def imap_state(self, account: str, folder: str) -> ImapState:
        with self.session() as s:
            st = s.exec(select(ImapState).where(ImapState.account == account, ImapState.folder == folder)).first()
            if st is None:
                st = ImapState(account=account, folder=folder)
                s.add(st)
                s.commit()
            return st

    def save_imap_state(self, account: str, folder: str, uidvalidity: int, last_uid: int) -> None:
        def tx():
            with self.session() as s:
                st = s.exec(select(ImapState).where(ImapState.account == account, ImapState.folder == folder)).one()
                st.uidvalidity, st.last_uid = uidvalidity, last_uid
                s.add(st)
                s.commit()
        self._retrying(tx)

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except OperationalError:
            return False


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, default=str)
