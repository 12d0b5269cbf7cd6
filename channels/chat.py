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
conversation in this process); different conversations run in parallel.
Log lines hold channel, steps and counts, never text or chat ids.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

from sqlmodel import select

from triage.conversation import ConversationState, Engine, fill_case_number
from triage.store import Conversation, InboundRecord, Store

log = logging.getLogger("triage.chat")

__all__ = ["ChatService", "ChatOpened", "ChatReply", "MAX_STORED_CHARS"]

# a message longer than the engine reads is refused by it; this much is kept
MAX_STORED_CHARS = 100_000
_LOCKS = 64


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


class ChatService:
    def __init__(self, store: Store, triage, *, engine: Engine | None = None, max_chars: int = 4000,
                 rate_limit: int = 20, rate_window: float = 60.0, clock=time.time):
        self.store = store
        self.engine = engine or Engine(triage, max_chars=max_chars, rate_limit=rate_limit, rate_window=rate_window)
        self.clock = clock
        self._locks = [threading.Lock() for _ in range(_LOCKS)]

    def _lock(self, kanaal: str, external_id: str) -> threading.Lock:
        return self._locks[hash((kanaal, external_id)) % _LOCKS]

    # ------------------------------------------------------------------
    def open(self, kanaal: str, external_id: str, language: str | None = None) -> ChatOpened:
        """Start a conversation (its greeting) or, when it exists, resume it
        (its history, no new greeting)."""
        with self._lock(kanaal, external_id):
            return self._open(kanaal, external_id, language)

    def resume(self, kanaal: str, external_id: str) -> ChatOpened | None:
        """The stored conversation, or None when there is none to resume."""
        conv = self.store.conversation(kanaal, external_id)
        if conv is None or not conv.state:
            return None
        st = ConversationState.from_dict(conv.state)
        return ChatOpened([], list(st.transcript), True, st.case_number)

    def _open(self, kanaal: str, external_id: str, language: str | None, conv: Conversation | None = None,
              loaded: bool = False) -> ChatOpened:
        if not loaded:
            conv = self.store.conversation(kanaal, external_id)
        if conv is not None and conv.state:
            st = ConversationState.from_dict(conv.state)
            return ChatOpened([], list(st.transcript), True, st.case_number)
        state, greeting = self.engine.start(f"{kanaal}:{external_id}", kanaal, language=language, now=self.clock())
        if conv is None:
            conv, created = self.store.create_conversation(kanaal, external_id, state.to_dict())
            if not created and conv.state:  # started elsewhere at the same moment
                st = ConversationState.from_dict(conv.state)
                return ChatOpened([], list(st.transcript), True, st.case_number)
        else:  # the conversation was wiped by retention: start afresh
            self.store.record_chat_turn(conv.id, None, state, [])
        log.info("%s conversation started", kanaal)
        return ChatOpened(greeting)

    def handle(self, kanaal: str, external_id: str, text: str, *, key: str | None = None,
               language: str | None = None) -> ChatReply:
        """One message of the resident. ``key``: the channel's id of the
        message (Telegram update id); a message delivered twice is handled
        once (the second time: no replies, ``duplicate``)."""
        text = text if isinstance(text, str) else ""
        with self._lock(kanaal, external_id):
            conv = self.store.conversation(kanaal, external_id)
            replies: list[str] = []
            if conv is None or not conv.state:
                replies += self._open(kanaal, external_id, language, conv, loaded=True).replies
                conv = self.store.conversation(kanaal, external_id)
            rec, duplicate = self.store.save_chat_message(conv, text[:MAX_STORED_CHARS], key or uuid.uuid4().hex)
            if duplicate and rec.status != "chat":
                log.info("%s message delivered twice: handled once", kanaal)
                return ChatReply([], self.store.case_number(conv.case_id), True)
            state = ConversationState.from_dict(conv.state)
            # a message stored before a crash but never handled goes first
            for earlier in self._unhandled(conv, before=rec.id):
                state, out = self._turn(conv, state, earlier.id, earlier.inhoud or "")
                replies += out.replies
            state, out = self._turn(conv, state, rec.id, text)
            out.replies = replies + out.replies
            out.duplicate = duplicate
            return out

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

    # ------------------------------------------------------------------
    def _unhandled(self, conv: Conversation, before: int) -> list[InboundRecord]:
        with self.store.session() as s:
            return list(s.exec(select(InboundRecord).where(
                InboundRecord.kanaal == "chat", InboundRecord.channel_message_id == f"{conv.kanaal}:{conv.external_id}",
                InboundRecord.status == "chat", InboundRecord.id < before).order_by(InboundRecord.id)).all())

    def _turn(self, conv: Conversation, state: ConversationState, message_id: int,
              text: str) -> tuple[ConversationState, ChatReply]:
        new_state, replies, actions = self.engine.handle(state, text, now=self.clock())
        turn = self.store.record_chat_turn(conv.id, message_id, new_state, actions)
        if turn.case_number:
            replies = fill_case_number(replies, turn.case_number)
        kinds = [a["type"] for a in actions]
        if kinds:
            log.info("%s message: step %s, actions %s", conv.kanaal, turn.state.step, ",".join(kinds))
        return turn.state, ChatReply(replies, turn.case_number, False, kinds)
