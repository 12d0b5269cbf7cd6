"""The chat entry point shared by the web chat and Telegram: one resident
message in, the replies out, with the store in between.

    chat = ChatService(store, triage)
    opened = chat.open("webchat", session)           # greeting, or the history when it exists
    reply = chat.handle("telegram", "42", "Ik heb schulden ...", key="update:123")
    reply.replies                                    # texts to send, case number filled in

For one message: the conversation is loaded from the store (or started), the
message is stored and committed FIRST (idempotent on ``key``), then the
conversation engine (triage.conversation) decides, and the store carries out
its actions in one transaction (case and startformulier, crisis to the top of
the queue, events without personal data) together with the new state. A new
ChatService on the same database resumes every conversation. A message that
was stored but not handled (a crash in between) is handled before the next
one of the same conversation.

Messages of one conversation are handled one at a time (a lock per
conversation in this process); different conversations run in parallel. On
SQLite the chat's database work takes turns on one lock in this process (the
conversation engine and triage run outside it): SQLite has one writer at a
time, the store begins every transaction, reads too, with BEGIN IMMEDIATE,
and a connection that finds the database locked sleeps in steps of up to
100 ms before it looks again, which made replies slow and unfair when many
conversations wrote at once. Whether a conversation may hold a message
stored but not handled is asked of the store only for its first message in
this process or after a message failed; after that this process knows.
Log lines hold channel, steps and counts, never text or chat ids.

Answers of a KCC agent (Store.send_answer on a chat case) wait in the outbox
as pending answers of the chat's channel. The channel delivers them
(``pending_answers``: the text as the resident reads it, a first line saying
it comes from a staff member) and, only after the send succeeded,
``answer_delivered`` marks one sent and adds it to the conversation's
history (role "medewerker") under the conversation's lock, so no turn of the
engine saves over it; ``answer_failed`` counts a failed try.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field

from sqlalchemy import bindparam
from sqlmodel import select

from triage.conversation import ConversationState, Engine, fill_case_number
from triage.store import Conversation, InboundRecord, Store

log = logging.getLogger("triage.chat")

__all__ = ["ChatService", "ChatOpened", "ChatReply", "ChatAnswer", "MAX_STORED_CHARS", "ANSWER_INTRO", "answer_text"]

# a message longer than the engine reads is refused by it; this much is kept
MAX_STORED_CHARS = 100_000
_MAX_KNOWN_CLEAN = 100_000
_CONV = Conversation.__table__
_CONVERSATION_QUERY = select(_CONV.c.id, _CONV.c.state, _CONV.c.case_id, _CONV.c.since_message_id, _CONV.c.status).where(
    _CONV.c.kanaal == bindparam("kanaal"), _CONV.c.external_id == bindparam("external_id"))
_SQLITE_CONVERSATION_SQL = ("SELECT id, state, case_id, since_message_id, status FROM conversation "
                            "WHERE kanaal = ? AND external_id = ?")
# the first line of a KCC agent's answer in the chat (the conversation's language)
ANSWER_INTRO = {
    "nl": "Bericht van een medewerker van het Sociaal Wijkteam:",
    "en": "Message from a member of staff of the Sociaal Wijkteam:",
}
# one lock per SQLite store, shared by every ChatService on it
_SQLITE_LOCKS: "weakref.WeakKeyDictionary[Store, threading.Lock]" = weakref.WeakKeyDictionary()
_SQLITE_LOCKS_GUARD = threading.Lock()


def _db_lock(store: Store) -> contextlib.AbstractContextManager:
    if not store.url.startswith("sqlite"):
        return contextlib.nullcontext()  # PostgreSQL: row locks, writers run side by side
    with _SQLITE_LOCKS_GUARD:
        lock = _SQLITE_LOCKS.get(store)
        if lock is None:
            lock = _SQLITE_LOCKS[store] = threading.Lock()
    return lock


class _KeyedLocks:
    """One lock per key, kept only while someone holds or waits for it (a
    fixed set of hashed locks made unrelated conversations wait for each
    other)."""

    def __init__(self):
        self._guard = threading.Lock()
        self._locks: dict[tuple, list] = {}  # key -> [lock, holders and waiters]

    @contextlib.contextmanager
    def hold(self, key: tuple):
        with self._guard:
            entry = self._locks.get(key)
            if entry is None:
                entry = self._locks[key] = [threading.Lock(), 0]
            entry[1] += 1
        entry[0].acquire()
        try:
            yield
        finally:
            entry[0].release()
            with self._guard:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._locks[key]


@dataclass(slots=True)
class _Conv:
    """A conversation row as the chat reads it on every message (a plain
    object: building a Conversation model costs ten times as much)."""

    id: int | None
    kanaal: str
    external_id: str
    state: dict
    case_id: int | None = None
    since_message_id: int | None = None
    status: str = "open"


@dataclass
class ChatOpened:
    replies: list[str]                       # the greeting (new conversation) or nothing
    history: list[tuple[str, str]] = field(default_factory=list)  # (role, text) of a resumed conversation
    resumed: bool = False
    case_number: str | None = None


@dataclass
class ChatReply:
    replies: list[str]
    case_number: str | None = None
    duplicate: bool = False
    actions: list[str] = field(default_factory=list)  # action types, for metrics and tests


@dataclass
class ChatAnswer:
    """A KCC agent's answer that waits to be delivered into a chat."""

    id: int                                  # the OutboundRecord
    kanaal: str                              # webchat | telegram
    external_id: str                         # web session token, Telegram chat id
    text: str                                # as the resident reads it: ANSWER_INTRO, then the agent's text
    attempts: int = 0                        # failed tries so far


def answer_text(body: str, language: str | None = "nl") -> str:
    """The answer as the resident reads it: a first line saying that a staff
    member wrote it, then the agent's text."""
    intro = ANSWER_INTRO["en"] if (language or "").startswith("en") else ANSWER_INTRO["nl"]
    return f"{intro}\n\n{body.strip()}"


class ChatService:
    def __init__(self, store: Store, triage, *, engine: Engine | None = None, max_chars: int = 4000,
                 rate_limit: int = 20, rate_window: float = 60.0, clock=time.time):
        self.store = store
        self.engine = engine or Engine(triage, max_chars=max_chars, rate_limit=rate_limit, rate_window=rate_window)
        self.clock = clock
        self._locks = _KeyedLocks()
        self._sqlite = store.url.startswith("sqlite")
        self._db = _db_lock(store)
        # conversations whose every stored message was handled, as far as this
        # process knows (it handled them): no need to ask the store
        self._clean: set[tuple[str, str]] = set()

    def _lock(self, kanaal: str, external_id: str):
        return self._locks.hold((kanaal, external_id))

    # ------------------------------------------------------------------
    def open(self, kanaal: str, external_id: str, language: str | None = None) -> ChatOpened:
        """Start a conversation (its greeting) or, when it exists, resume it
        (its history, no new greeting)."""
        with self._lock(kanaal, external_id):
            return self._open(kanaal, external_id, language)

    def resume(self, kanaal: str, external_id: str) -> ChatOpened | None:
        """The stored conversation, or None when there is none to resume."""
        conv = self._conversation(kanaal, external_id)
        if conv is None or not conv.state:
            return None
        st = ConversationState.from_dict(conv.state)
        return ChatOpened([], list(st.transcript), True, st.case_number)

    def _open(self, kanaal: str, external_id: str, language: str | None) -> ChatOpened:
        return self._start(kanaal, external_id, language, self._conversation(kanaal, external_id))[0]

    def _start(self, kanaal: str, external_id: str, language: str | None,
               conv: "Conversation | _Conv | None") -> tuple[ChatOpened, "Conversation | _Conv", ConversationState]:
        """Greet a new (or wiped) conversation; resume a stored one. Returns
        what the resident sees, the conversation row and its state."""
        if conv is not None and conv.state:
            st = ConversationState.from_dict(conv.state)
            return ChatOpened([], list(st.transcript), True, st.case_number), conv, st
        state, greeting = self.engine.start(f"{kanaal}:{external_id}", kanaal, language=language, now=self.clock())
        if conv is None:
            with self._db:
                conv, created = self.store.create_conversation(kanaal, external_id, state.to_dict())
            if not created and conv.state:  # started elsewhere at the same moment
                st = ConversationState.from_dict(conv.state)
                return ChatOpened([], list(st.transcript), True, st.case_number), conv, st
        else:  # the conversation was wiped by retention: start afresh
            with self._db:
                state = self.store.record_chat_turn(conv.id, None, state, []).state
        log.info("%s conversation started", kanaal)
        return ChatOpened(greeting), conv, state

    def handle(self, kanaal: str, external_id: str, text: str, *, key: str | None = None,
               language: str | None = None) -> ChatReply:
        """One message of the resident. ``key``: the channel's id of the
        message (Telegram update id); a message delivered twice is handled
        once (the second time: no replies, ``duplicate``)."""
        text = text if isinstance(text, str) else ""
        ident = (kanaal, external_id)
        with self._lock(kanaal, external_id):
            # known clean unless this message fails half-way (then the store is asked next time)
            clean = ident in self._clean
            self._clean.discard(ident)
            conv = self._conversation(kanaal, external_id)
            replies: list[str] = []
            if conv is None or not conv.state:
                opened, conv, state = self._start(kanaal, external_id, language, conv)
                replies += opened.replies
                clean = ident in self._clean
            else:
                state = ConversationState.from_dict(conv.state)
            with self._db:
                rec, duplicate = self.store.save_chat_message(conv, text[:MAX_STORED_CHARS], key or uuid.uuid4().hex)
            if duplicate and rec.status != "chat":
                log.info("%s message delivered twice: handled once", kanaal)
                if clean:
                    self._note_clean(ident)
                with self._db:
                    number = self.store.case_number(conv.case_id)
                return ChatReply([], number, True)
            # a message stored before a crash but never handled goes first
            for earlier in ([] if clean else self._unhandled(conv, before=rec.id)):
                state, out = self._turn(conv, state, earlier.id, earlier.inhoud or "")
                replies += out.replies
            state, out = self._turn(conv, state, rec.id, text)
            out.replies = replies + out.replies
            out.duplicate = duplicate
            self._note_clean(ident)
            return out

    def receive(self, kanaal: str, external_id: str, text: str, *, key: str) -> bool:
        """Store a message now; :meth:`handle` with the same ``key`` handles
        it later. For a channel that confirms receipt before the reply is
        made (a Telegram webhook answers 200 at once). Returns False when the
        message was stored already. A conversation that does not exist yet is
        started (with its greeting) by handle."""
        text = text if isinstance(text, str) else ""
        with self._lock(kanaal, external_id):
            self._clean.discard((kanaal, external_id))  # it now holds a message not handled yet
            with self._db:
                _, duplicate = self.store.save_chat_message(_Conv(None, kanaal, external_id, {}),
                                                            text[:MAX_STORED_CHARS], key)
        return not duplicate

    def error_text(self, language: str = "nl") -> str:
        """What the resident reads when a message could not be handled (the
        store is down): try again or call, and the crisis numbers always."""
        v = self.engine.values
        if language == "en":
            return (f"Sorry, your message could not be processed. Please try again in a few minutes or call "
                    f"{v.get('kcc_telefoon', '')}. Is someone in danger? Call {v.get('alarmnummer', '112')}. "
                    f"Thinking about suicide? Call 113 on {v.get('zelfmoordpreventie_telefoon', '')}.")
        return (f"Sorry, uw bericht is niet goed aangekomen. Probeer het over een paar minuten opnieuw of bel "
                f"{v.get('kcc_telefoon', '')}. Is er direct gevaar? Bel {v.get('alarmnummer', '112')}. "
                f"Denkt u aan zelfmoord? Bel 113 via {v.get('zelfmoordpreventie_telefoon', '')}.")

    # ------------------------------------------------- the KCC's answers
    def pending_answers(self, kanaal: str, external_id: str | list[str] | None = None) -> list[ChatAnswer]:
        """Answers of KCC agents for chats of ``kanaal`` (only these
        conversations, when given) that did not reach the resident yet,
        oldest first."""
        with self._db:
            rows = self.store.pending_chat_answers(kanaal, external_id)
        languages: dict[str, str] = {}
        out = []
        for o in rows:
            if o.to not in languages:
                conv = self._conversation(kanaal, o.to)
                languages[o.to] = ((conv.state or {}).get("language") if conv is not None else None) or "nl"
            out.append(ChatAnswer(o.id, kanaal, o.to, answer_text(o.body, languages[o.to]), o.attempts))
        return out

    def answer_delivered(self, answer: ChatAnswer) -> bool:
        """The channel delivered ``answer``: mark it sent and add it to the
        conversation's history. Call only after the send succeeded. False
        when it was marked before."""
        with self._lock(answer.kanaal, answer.external_id), self._db:
            done = self.store.chat_answer_delivered(answer.id, answer.text)
        if done:
            log.info("%s answer of a staff member delivered", answer.kanaal)
        return done

    def answer_failed(self, answer: ChatAnswer, error: str, *, final: bool = False,
                      max_attempts: int | None = None) -> str:
        """A try to deliver ``answer`` failed (``error``: an exception type
        name). Returns its status: "pending" (tried again) or "failed"."""
        with self._db:
            return self.store.chat_answer_failed(answer.id, error, final=final, max_attempts=max_attempts)

    # ------------------------------------------------------------------
    def _note_clean(self, ident: tuple[str, str]) -> None:
        if len(self._clean) >= _MAX_KNOWN_CLEAN:  # forgetting only costs a query
            self._clean.clear()
        self._clean.add(ident)

    def _conversation(self, kanaal: str, external_id: str) -> _Conv | None:
        """The stored conversation (a detached row), read with one plain
        statement (the ORM's query costs four times as much, on every
        message). On SQLite the read runs outside a transaction: in WAL mode
        it needs no lock and waits for no writer, where a store session would
        begin with BEGIN IMMEDIATE and queue behind every write."""
        if self._sqlite:
            raw = self.store.engine.raw_connection()
            try:
                cur = raw.cursor()
                cur.execute(_SQLITE_CONVERSATION_SQL, (kanaal, external_id))
                row = cur.fetchone()
                cur.close()
            finally:
                raw.close()
            if row is None:
                return None
            return _Conv(row[0], kanaal, external_id, json.loads(row[1]) if row[1] else {}, row[2], row[3], row[4])
        with self.store.engine.connect() as conn:
            row = conn.execute(_CONVERSATION_QUERY, {"kanaal": kanaal, "external_id": external_id}).first()
        if row is None:
            return None
        m = row._mapping
        return _Conv(m["id"], kanaal, external_id, m["state"] or {}, m["case_id"], m["since_message_id"], m["status"])

    def _unhandled(self, conv: "Conversation | _Conv", before: int) -> list[InboundRecord]:
        with self._db, self.store.session() as s:
            return list(s.exec(select(InboundRecord).where(
                InboundRecord.kanaal == "chat", InboundRecord.channel_message_id == f"{conv.kanaal}:{conv.external_id}",
                InboundRecord.status == "chat", InboundRecord.id < before).order_by(InboundRecord.id)).all())

    def _turn(self, conv: "Conversation | _Conv", state: ConversationState, message_id: int,
              text: str) -> tuple[ConversationState, ChatReply]:
        new_state, replies, actions = self.engine.handle(state, text, now=self.clock())
        with self._db:
            turn = self.store.record_chat_turn(conv.id, message_id, new_state, actions)
        if turn.case_number:
            replies = fill_case_number(replies, turn.case_number)
        kinds = [a["type"] for a in actions]
        if kinds:
            log.info("%s message: step %s, actions %s", conv.kanaal, turn.state.step, ",".join(kinds))
        return turn.state, ChatReply(replies, turn.case_number, False, kinds)
