"""The one intake entry point for every channel: store first, then triage,
then the case and its replies — each step committed before the next.

    store.save_inbound  (commit: the message is safe; SMTP may now say 250)
    triage              (pure logic)
    store.record_triage (commit: case, startformulier, outbox replies)

A message that cannot be triaged stays stored with status ``received`` and
is picked up again by :meth:`Intake.resume` (at start-up, and every minute in
``triage serve``). Auto-replies, bounces and list mail are stored and never
answered, and make no case.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from email.utils import make_msgid

from .kennisbank import detect_language
from .pipeline import Triage
from .store import InboundRecord, IntakeResult, Store, utcnow

log = logging.getLogger("triage.intake")

__all__ = ["Intake", "compose_replies"]

ACK_NL = (
    "Beste {naam},\n\n"
    "Wij hebben uw bericht goed ontvangen. Uw zaaknummer is {case}.\n"
    "{route_text}\n\n"
    "Is er nu direct gevaar? Bel dan {alarmnummer}.\n\n"
    "Met vriendelijke groet,\n\nSociaal Wijkteam {gemeente}\nTelefoon {kcc_telefoon}\n\n"
    "Dit is een automatisch bericht. Stuur ons geen persoonlijke gegevens per e-mail; "
    "het wijkteam vraagt die veilig aan u."
)
ACK_EN = (
    "Dear {naam},\n\n"
    "We have received your message. Your case number is {case}.\n"
    "{route_text}\n\n"
    "Is someone in danger right now? Call {alarmnummer}.\n\n"
    "Kind regards,\n\nSociaal Wijkteam (social support team) {gemeente}\nPhone {kcc_telefoon}\n\n"
    "This is an automatic message. Please do not send personal details by e-mail."
)
ROUTE_TEXT = {
    "nl": {
        "bureaudienst": "Het wijkteam neemt zo snel mogelijk contact met u op om uw vraag te bespreken.",
        "kcc_review": "Een medewerker leest uw bericht en neemt zo snel mogelijk contact met u op.",
        "auto_answer": "Hieronder leest u informatie die past bij uw vraag.",
        "crisis": "",
    },
    "en": {
        "bureaudienst": "The wijkteam (social support team) will contact you as soon as possible.",
        "kcc_review": "A member of staff will read your message and contact you as soon as possible.",
        "auto_answer": "Below you find information that fits your question.",
        "crisis": "",
    },
}


def _msgid(domain: str) -> str:
    return make_msgid(domain=domain).strip("<>")


def compose_replies(result, triage: Triage, *, to: str | None, subject: str, in_reply_to: str | None,
                    references: list[str], text: str, domain: str, allow_non_crisis: bool) -> list[dict]:
    """The replies to a triaged mail: the crisis numbers at once for a crisis;
    the standard answer for auto_answer; otherwise an acknowledgement with the
    case number. No client data in the reply body."""
    if not to:
        return []
    lang = detect_language(text)
    values = triage.municipality.placeholders()
    naam = "heer/mevrouw" if lang == "nl" else "Sir or Madam"
    base_subject = subject.strip() or ("Uw bericht aan het Sociaal Wijkteam" if lang == "nl" else "Your message")
    subj = f"[{{case}}] Re: {base_subject}" if not base_subject.lower().startswith("re:") else f"[{{case}}] {base_subject}"
    refs = [*references, *([in_reply_to] if in_reply_to and in_reply_to not in references else [])]
    common = {"to": to, "subject": subj, "in_reply_to": in_reply_to, "references": refs}
    kb = triage.kennisbank
    if result.category == "crisis" or result.route == "crisis":
        crisis_text = kb.render("kb-crisis", lang) if kb and "kb-crisis" in kb.answers else (
            "Bel bij direct gevaar {alarmnummer}. Denkt u aan zelfmoord? Bel gratis {zelfmoordpreventie_telefoon} "
            "of chat via {zelfmoordpreventie_chat}. Geweld thuis: Veilig Thuis {veilig_thuis_telefoon}.").format(**values)
        head = ("Uw zaaknummer is {case}. Wij hebben uw bericht met voorrang doorgezet naar het wijkteam.\n\n"
                if lang == "nl" else "Your case number is {case}. We have passed your message on with priority.\n\n")
        return [{**common, "body": head + crisis_text, "kind": "crisis", "message_id": _msgid(domain)}]
    if not allow_non_crisis:
        return [{**common, "body": "", "kind": "ack", "message_id": _msgid(domain), "status": "suppressed"}]
    route_text = ROUTE_TEXT[lang].get(result.route or "kcc_review", ROUTE_TEXT[lang]["kcc_review"])
    body = (ACK_NL if lang == "nl" else ACK_EN).format(naam=naam, case="{case}", route_text=route_text, **values)
    kind = "ack"
    if result.route == "auto_answer" and result.answer_id and kb is not None:
        body = body.replace(route_text, route_text + "\n\n" + kb.render(result.answer_id, lang))
        kind = "answer"
    return [{**common, "body": body, "kind": kind, "message_id": _msgid(domain)}]


class Intake:
    def __init__(self, store: Store, triage: Triage, reply_rate_limit_per_hour: int = 3):
        self.store = store
        self.triage = triage
        self.rate_limit = reply_rate_limit_per_hour
        self.domain = triage.municipality.wijkteam_email.split("@")[-1]

    # ------------------------------------------------------------------ mail
    def receive_email(self, msg, *, source: str = "smtp", fallback_key: str | None = None) -> IntakeResult:
        """Store a parsed mail (channels.mime.InboundMessage) and triage it.
        Idempotent on the Message-ID (or ``fallback_key``, or a content hash)."""
        rec, duplicate = self.store_email(msg, source=source, fallback_key=fallback_key)
        return self.after_store(rec, duplicate)

    def store_email(self, msg, *, source: str = "smtp", fallback_key: str | None = None) -> tuple[InboundRecord, bool]:
        """Only the durable part: returns (record, duplicate) once committed.
        Raises when the message could not be stored (the sender must retry)."""
        key = msg.channel_message_id
        if key.startswith("sha256:") and fallback_key:
            key = fallback_key
        return self.store.save_inbound(
            kanaal="email", channel_message_id=msg.channel_message_id, idempotency_key=key,
            afzender=msg.sender, afzender_naam=msg.sender_name, onderwerp=msg.subject, inhoud=msg.text, raw=msg.raw,
            in_reply_to=msg.in_reply_to, references=msg.references, auto_reply=msg.auto_reply, problems=msg.problems,
            attachments=msg.attachments, actor=source)

    # ----------------------------------------------------------------- phone
    def receive_phone_note(self, text: str, actor: str, key: str) -> IntakeResult:
        """A phone note typed by a KCC agent (console form or API): stored as
        a message with kanaal "phone" and channel id "console:<key>", then
        triaged like any message. ``key`` is the form's one-time token: the
        same form sent twice makes one case. A phone note has no written
        channel, so no reply is composed."""
        if not text.strip():
            raise ValueError("De notitie is leeg.")
        rec, duplicate = self.store.save_inbound(
            kanaal="phone", channel_message_id=f"console:{key}", idempotency_key=f"console:{key}", afzender=None,
            afzender_naam=None, onderwerp="", inhoud=text, raw=None, actor=actor)
        return self.after_store(rec, duplicate)

    def after_store(self, rec: InboundRecord, duplicate: bool, result=None) -> IntakeResult:
        """Triage a stored message (unless it was handled before or is an
        automatic message)."""
        if duplicate:
            log.info("duplicate message %s ignored", rec.id)
            if rec.status != "received":
                return IntakeResult(rec.id, True, self.store.case_number(rec.case_id), rec.case_id)
        if rec.auto_reply:
            log.info("message %s is automatic (%s): stored, not answered", rec.id, rec.auto_reply)
            return IntakeResult(rec.id, duplicate)
        return self.process(rec, result)

    def process(self, rec: InboundRecord, result=None) -> IntakeResult:
        """Triage a stored message and record its case. ``result``: the
        triage of the same text done elsewhere (a worker process)."""
        try:
            if result is None:
                result = self.triage.classify(rec.inhoud or "", channel=rec.kanaal, subject=rec.onderwerp,
                                              id=str(rec.id))
        except Exception as exc:  # keep the message; it is retried by resume()
            log.error("triage failed for message %s (%s)", rec.id, type(exc).__name__)
            self.store.mark_failed(rec.id, type(exc).__name__)
            raise
        allow = True
        if rec.afzender and result.category != "crisis":
            allow = self.store.replies_sent_since(rec.afzender, utcnow() - timedelta(hours=1)) < self.rate_limit
        replies = compose_replies(result, self.triage, to=rec.afzender, subject=rec.onderwerp,
                                  in_reply_to=rec.channel_message_id if "@" in rec.channel_message_id else None,
                                  references=list(rec.references or []), text=rec.inhoud or "", domain=self.domain,
                                  allow_non_crisis=allow) if rec.kanaal == "email" else []
        hulpvraag = _summary(rec.inhoud or "")
        out = self.store.record_triage(rec.id, result, hulpvraag=hulpvraag, replies=replies)
        log.info("message %s -> case %s (%s, %s)", rec.id, out.case_number, result.category, result.route)
        return out

    def resume(self) -> int:
        """Triage stored messages that were not triaged (after a crash or a
        database outage). Returns how many were handled."""
        n = 0
        for mid in self.store.pending_messages():
            with self.store.session() as s:
                rec = s.get(InboundRecord, mid)
            if rec is None or rec.status != "received":
                continue
            try:
                self.process(rec)
                n += 1
            except Exception:  # logged in process(); try again next round
                continue
        return n


def _summary(text: str, limit: int = 300) -> str:
    """A short hulpvraag summary: the first sentences of the body."""
    from .normalize import normalize

    body = " ".join(normalize(text).body.split())
    if len(body) <= limit:
        return body
    cut = body[:limit]
    return cut[: cut.rfind(" ")] + " …"
