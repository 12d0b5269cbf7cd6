"""The conversation engine shared by every chat channel (Telegram, web chat).

Pure logic: no network, no database, no clock of its own (``now`` comes from
the caller). A channel adapter keeps one :class:`ConversationState` per chat,
stores it as a plain JSON dict (:meth:`ConversationState.to_dict`) and reads
it back after a restart (:meth:`ConversationState.from_dict`); that round
trip is lossless, so a conversation resumes where it stopped.

    engine = Engine(triage)                      # triage: a loaded pipeline.Triage
    state, replies = engine.start("tg:42", "telegram")
    state, replies, actions = engine.handle(state, "Ik heb schulden ...", now=time.time())

``replies`` are the texts the resident reads, in plain Dutch (B1) or in
English when the resident writes English. ``actions`` are small dicts the
caller carries out with the store (see ``ACTION_TYPES``):

- ``escalate_crisis``: a crisis was seen in this message. Create the case at
  once (or raise the existing one, ``case_number``) with priority ``spoed``
  and route ``crisis``: top of the bureaudienst queue.
- ``create_case``: the resident confirmed the startformulier. Create the case
  (or complete the existing one when ``case_number`` is set).
- ``add_message``: a message after the case exists; add it to that case.
- ``answered`` / ``answer_feedback``: a standard answer was given / rated.
- ``end`` / ``restart`` / ``refused``: bookkeeping and metrics.

When an action creates a case, a reply may hold the token ``{case}``: the
caller sets the number with :meth:`ConversationState.set_case_number` and
fills the replies with :func:`fill_case_number` before sending them.

The crisis check runs on every message, in every step, also on answers to a
startformulier question such as a name: the crisis rules always; the model's
crisis decision on free questions, and on form answers that are no valid
answer when the model is sure (short answers like "1781" or "in the morning"
fool it otherwise). Log lines hold steps and categories, never message text or
personal data.
"""

from __future__ import annotations

import copy
import logging
import re
import time
from dataclasses import dataclass, field as _field, fields as dc_fields
from datetime import datetime
from typing import Any

from . import crisis as crisis_mod
from .config import Municipality
from .extract import normalize_phone
from .kennisbank import CRISIS_ANSWER_ID, detect_language

__all__ = [
    "ACTION_TYPES", "CASE_TOKEN", "ConversationState", "Engine", "FORM_FIELDS", "fill_case_number",
    "parse_address", "parse_contact", "parse_name", "parse_yes_no", "valid_call_time",
]

log = logging.getLogger("triage.conversation")

STATE_VERSION = 1
CASE_TOKEN = "{case}"
ACTION_TYPES = ("escalate_crisis", "create_case", "add_message", "answered", "answer_feedback", "end", "restart",
                "refused")
# The startformulier questions, in the order they are asked.
FORM_FIELDS = ("naam", "contact", "adres", "toestemming_wijkteam", "toestemming_derden", "beltijd")
# In a crisis the wijkteam must be able to reach the resident first.
CRISIS_FORM_FIELDS = ("contact", "naam", "adres", "toestemming_wijkteam", "toestemming_derden", "beltijd")
MAX_TRIES = 3
MAX_TRANSCRIPT = 400
SEVERITY = {"info_advies": 0, "enkelvoudig": 1, "meervoudig": 2, "crisis": 3}

# Steps of a conversation.
VRAAG, NA_ANTWOORD, AANBOD, FORM, BEVESTIGEN, KLAAR, GESTOPT = (
    "vraag", "na_antwoord", "aanbod", "form", "bevestigen", "klaar", "gestopt")


# ---------------------------------------------------------------- texts
TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "greeting": (
            "Welkom bij de chat van het Sociaal Wijkteam van gemeente {gemeente}. "
            "Ik ben een digitale assistent. Stel hier uw vraag in een paar zinnen.\n\n"
            "Privacy: wat u hier schrijft, bewaren wij veilig. Alleen medewerkers die u helpen, lezen het. "
            "Wij gebruiken het alleen om u te helpen. Deel niet meer dan nodig is.\n\n"
            "Is er nu direct gevaar? Bel {alarmnummer}. Typ stop om te stoppen of opnieuw om opnieuw te beginnen.\n"
            "You can also write in English."
        ),
        "ask_question": "Waarmee kan ik u helpen? Schrijf uw vraag in een paar zinnen.",
        "thanks": "Graag gedaan. Heeft u nog een vraag? Typ die dan hier. Klaar? Typ stop.",
        "empty": "Ik heb geen tekst ontvangen. Typ uw vraag in een paar zinnen.",
        "answered_q": "Heeft dit uw vraag beantwoord? Typ ja of nee.",
        "answered_yes": "Fijn dat ik u kon helpen. Heeft u nog een andere vraag? Typ die dan hier. Klaar? Typ stop.",
        "answered_no": "Jammer. Wilt u dat een medewerker van het KCC contact met u opneemt? Typ ja of nee.",
        "no_answer": (
            "Op deze vraag heb ik geen antwoord klaarstaan. Een medewerker van het KCC kan u verder helpen. "
            "Wilt u dat een medewerker contact met u opneemt? Typ ja of nee."
        ),
        "offer_no": (
            "Goed. U kunt ons ook bellen via {kcc_telefoon}. "
            "Heeft u nog een andere vraag? Typ die dan hier."
        ),
        "offer_again": "Wilt u dat een medewerker contact met u opneemt? Typ ja of nee.",
        "form_intro_support": (
            "Het wijkteam kan u hierbij helpen. Ik stel u nu een paar korte vragen, één voor één. "
            "Daarna stuur ik uw aanmelding naar het wijkteam."
        ),
        "form_intro_kcc": (
            "Ik stel u nu een paar korte vragen, één voor één. Daarna neemt een medewerker contact met u op."
        ),
        "form_intro_crisis": (
            "Het wijkteam wil zo snel mogelijk contact met u opnemen. Daarvoor stel ik u een paar korte vragen."
        ),
        "form_continue_crisis": "Als u wilt, gaan we verder met de vragen. Dan kan het wijkteam u snel bereiken.",
        "crisis_case_new": "Uw zaaknummer is {case}. Uw bericht staat bovenaan de lijst van het wijkteam.",
        "crisis_case_known": "Uw zaaknummer is {case}. Uw bericht staat nu bovenaan de lijst van het wijkteam.",
        "q_naam": "Wat is uw naam?",
        "q_contact": "Hoe kan het wijkteam u bereiken? Stuur uw telefoonnummer of uw e-mailadres.",
        "q_adres": "Wat is uw postcode en huisnummer? Bijvoorbeeld: 1781 AB 12.",
        "q_toestemming_wijkteam": (
            "Mag het wijkteam uw vraag bespreken in het team? Dan kijken de medewerkers samen wat u nodig heeft. "
            "Typ ja of nee."
        ),
        "q_toestemming_derden": (
            "Mag het wijkteam uw gegevens delen met andere organisaties, zoals uw huisarts, "
            "als dat nodig is voor uw hulp? Typ ja of nee."
        ),
        "q_beltijd": "Wanneer kunnen we u het beste bellen? Bijvoorbeeld: ochtend, middag of dinsdag na 14.00 uur.",
        "err_naam": (
            "Ik begrijp uw naam niet goed. Typ alleen uw voornaam en achternaam, bijvoorbeeld: Fatima de Vries. "
            "Wilt u uw naam liever niet geven? Typ dan: overslaan."
        ),
        "err_phone": (
            "Dit is geen goed Nederlands telefoonnummer. Een telefoonnummer heeft 10 cijfers, "
            "bijvoorbeeld 06 12345678 of 0223 123456. Probeer het nog een keer."
        ),
        "err_email": (
            "Dit e-mailadres klopt niet. Een e-mailadres ziet er zo uit: naam@voorbeeld.nl. Probeer het nog een keer."
        ),
        "err_contact": (
            "Stuur uw telefoonnummer of uw e-mailadres, dan kan het wijkteam u bereiken. "
            "Heeft u geen telefoon en geen e-mail? Typ dan: geen."
        ),
        "err_adres": (
            "Ik mis uw postcode. Een postcode heeft 4 cijfers en 2 letters. "
            "Schrijf uw postcode en huisnummer, bijvoorbeeld: 1781 AB 12."
        ),
        "err_huisnummer": "Ik mis uw huisnummer. Schrijf uw postcode en huisnummer, bijvoorbeeld: 1781 AB 12.",
        "err_yes_no": "Ik begrijp uw antwoord niet. Typ ja of nee. U mag ook nee zeggen.",
        "err_beltijd": (
            "Ik begrijp niet wanneer wij u kunnen bellen. Schrijf bijvoorbeeld: ochtend, middag, avond, "
            "of dinsdag na 14.00 uur. Maakt het niet uit? Typ dan: maakt niet uit."
        ),
        "gave_up": "Geen probleem. We gaan verder. Het wijkteam vraagt dit later aan u.",
        "no_contact": "Goed. Het wijkteam kan u dan alleen via deze chat bereiken.",
        "outside": (
            "Let op: deze postcode hoort niet bij gemeente {gemeente}. "
            "Woont u in een andere gemeente? Dan helpt het wijkteam van uw eigen gemeente u."
        ),
        "added_to_question": "Dank u. Dit heb ik bij uw vraag gezet.",
        "summary_head": "Dit heb ik genoteerd:",
        "summary_q": (
            "Klopt dit? Typ ja om uw aanmelding te versturen. "
            "Wilt u iets veranderen? Typ dan het nummer (1 tot {n})."
        ),
        "summary_which": "Welk nummer wilt u veranderen? Typ een nummer van 1 tot {n}.",
        "lbl_naam": "Naam", "lbl_telefoon": "Telefoon", "lbl_email": "E-mail", "lbl_contact": "Bereikbaar",
        "lbl_adres": "Postcode en huisnummer", "lbl_toestemming_wijkteam": "Bespreken in het wijkteam",
        "lbl_toestemming_derden": "Gegevens delen met andere organisaties", "lbl_beltijd": "Beste tijd om te bellen",
        "val_onbekend": "onbekend", "val_ja": "ja", "val_nee": "nee", "val_chat": "alleen via deze chat",
        "done": (
            "Dank u wel. Uw aanmelding is verstuurd. Uw zaaknummer is {case}. "
            "Het wijkteam neemt zo snel mogelijk contact met u op. "
            "Heeft u nog een vraag? Typ die dan hier."
        ),
        "done_crisis": (
            "Dank u wel. Uw gegevens staan bij uw aanmelding met zaaknummer {case}. "
            "Het wijkteam neemt zo snel mogelijk contact met u op. Is het nu niet veilig? Bel dan {alarmnummer}."
        ),
        "added": (
            "Ik heb uw bericht bij uw aanmelding gezet (zaaknummer {case}). "
            "Het wijkteam neemt contact met u op."
        ),
        "stop": (
            "U heeft het gesprek gestopt. {stop_case}"
            "Wilt u ons toch spreken? Bel dan het KCC van de gemeente via {kcc_telefoon}. "
            "Is er direct gevaar? Bel {alarmnummer}."
        ),
        "stop_no_case": "Wij hebben niets doorgestuurd. ",
        "stop_case": "Uw aanmelding met zaaknummer {case} blijft staan. ",
        "stop_crisis": "Uw bericht is al met voorrang naar het wijkteam gestuurd. ",
        "restart": "We beginnen opnieuw. Wat u net heeft ingevuld, is gewist.",
        "too_long": (
            "Uw bericht is te lang ({n} tekens). Ik kan berichten tot {max} tekens lezen. "
            "Stuur een korter bericht, of bel {kcc_telefoon}. Is er direct gevaar? Bel {alarmnummer}."
        ),
        "rate": (
            "U stuurt veel berichten kort na elkaar. Wacht even een minuut en stuur dan uw bericht opnieuw. "
            "Is er direct gevaar? Bel {alarmnummer}."
        ),
        "crisis_fallback": (
            "Is er nu direct gevaar? Bel meteen {alarmnummer}. Denkt u aan zelfmoord? Bel gratis 113 "
            "Zelfmoordpreventie via {zelfmoordpreventie_telefoon} of chat via {zelfmoordpreventie_chat}. "
            "Is er geweld thuis? Bel Veilig Thuis via {veilig_thuis_telefoon}. Dat kan dag en nacht."
        ),
    },
    "en": {
        "greeting": (
            "Welcome to the chat of the Sociaal Wijkteam (social support team) of the municipality of {gemeente}. "
            "I am a digital assistant. Please ask your question in a few sentences.\n\n"
            "Privacy: what you write here is stored safely. Only staff who help you can read it. "
            "We only use it to help you. Do not share more than needed.\n\n"
            "Is someone in danger right now? Call {alarmnummer}. Type stop to stop or restart to start again."
        ),
        "ask_question": "How can I help you? Please describe your question in a few sentences.",
        "thanks": "You are welcome. Do you have another question? Type it here. Finished? Type stop.",
        "empty": "I did not receive any text. Please type your question in a few sentences.",
        "answered_q": "Did this answer your question? Type yes or no.",
        "answered_yes": "Good to hear. Do you have another question? Type it here. Finished? Type stop.",
        "answered_no": "Sorry about that. Would you like a member of staff to contact you? Type yes or no.",
        "no_answer": (
            "I do not have a ready answer to this question. A member of staff can help you further. "
            "Would you like a member of staff to contact you? Type yes or no."
        ),
        "offer_no": "All right. You can also call us on {kcc_telefoon}. Do you have another question? Type it here.",
        "offer_again": "Would you like a member of staff to contact you? Type yes or no.",
        "form_intro_support": (
            "The wijkteam can help you with this. I will now ask you a few short questions, one at a time. "
            "Then I will send your request to the wijkteam."
        ),
        "form_intro_kcc": (
            "I will now ask you a few short questions, one at a time. Then a member of staff will contact you."
        ),
        "form_intro_crisis": (
            "The wijkteam wants to contact you as soon as possible. For that I will ask you a few short questions."
        ),
        "form_continue_crisis": "If you like, we will continue with the questions, so the wijkteam can reach you quickly.",
        "crisis_case_new": "Your case number is {case}. Your message is at the top of the wijkteam's list.",
        "crisis_case_known": "Your case number is {case}. Your message is now at the top of the wijkteam's list.",
        "q_naam": "What is your name?",
        "q_contact": "How can the wijkteam reach you? Please send your phone number or your e-mail address.",
        "q_adres": "What is your postcode and house number? For example: 1781 AB 12.",
        "q_toestemming_wijkteam": (
            "May the wijkteam discuss your question within the team? Then the staff decide together what you need. "
            "Type yes or no."
        ),
        "q_toestemming_derden": (
            "May the wijkteam share your details with other organisations, such as your GP, "
            "when this is needed to help you? Type yes or no."
        ),
        "q_beltijd": "When is the best time to call you? For example: morning, afternoon or Tuesday after 2 pm.",
        "err_naam": (
            "I do not understand your name. Please type only your first name and last name, for example: "
            "Fatima de Vries. Would you rather not give your name? Type: skip."
        ),
        "err_phone": (
            "This is not a valid Dutch phone number. A phone number has 10 digits, for example 06 12345678 "
            "or 0223 123456. Please try again."
        ),
        "err_email": (
            "This e-mail address is not correct. An e-mail address looks like this: name@example.com. "
            "Please try again."
        ),
        "err_contact": (
            "Please send your phone number or your e-mail address, so the wijkteam can reach you. "
            "No phone and no e-mail? Type: none."
        ),
        "err_adres": (
            "I am missing your postcode. A postcode has 4 digits and 2 letters. "
            "Please write your postcode and house number, for example: 1781 AB 12."
        ),
        "err_huisnummer": (
            "I am missing your house number. Please write your postcode and house number, for example: 1781 AB 12."
        ),
        "err_yes_no": "I do not understand your answer. Please type yes or no. You may also say no.",
        "err_beltijd": (
            "I do not understand when we can call you. Write for example: morning, afternoon, evening, "
            "or Tuesday after 2 pm. Any time is fine? Type: any time."
        ),
        "gave_up": "No problem. Let's go on. The wijkteam will ask you about this later.",
        "no_contact": "All right. Then the wijkteam can only reach you through this chat.",
        "outside": (
            "Please note: this postcode is not in the municipality of {gemeente}. "
            "Do you live in another municipality? Then the social support team of your own municipality can help you."
        ),
        "added_to_question": "Thank you. I have added this to your question.",
        "summary_head": "This is what I noted:",
        "summary_q": (
            "Is this correct? Type yes to send your request. Want to change something? Type its number (1 to {n})."
        ),
        "summary_which": "Which number do you want to change? Type a number from 1 to {n}.",
        "lbl_naam": "Name", "lbl_telefoon": "Phone", "lbl_email": "E-mail", "lbl_contact": "Contact",
        "lbl_adres": "Postcode and house number", "lbl_toestemming_wijkteam": "Discuss within the wijkteam",
        "lbl_toestemming_derden": "Share details with other organisations", "lbl_beltijd": "Best time to call",
        "val_onbekend": "unknown", "val_ja": "yes", "val_nee": "no", "val_chat": "only through this chat",
        "done": (
            "Thank you. Your request has been sent. Your case number is {case}. "
            "The wijkteam will contact you as soon as possible. Do you have another question? Type it here."
        ),
        "done_crisis": (
            "Thank you. Your details have been added to case number {case}. The wijkteam will contact you as "
            "soon as possible. Is it not safe right now? Call {alarmnummer}."
        ),
        "added": "I have added your message to your request (case number {case}). The wijkteam will contact you.",
        "stop": (
            "You have stopped the conversation. {stop_case}"
            "Would you like to talk to us after all? Call the municipality on {kcc_telefoon}. "
            "Is someone in danger? Call {alarmnummer}."
        ),
        "stop_no_case": "We have not sent anything on. ",
        "stop_case": "Your request with case number {case} stays open. ",
        "stop_crisis": "Your message has already been sent to the wijkteam with priority. ",
        "restart": "Let's start again. What you just filled in has been deleted.",
        "too_long": (
            "Your message is too long ({n} characters). I can read messages of up to {max} characters. "
            "Please send a shorter message, or call {kcc_telefoon}. Is someone in danger? Call {alarmnummer}."
        ),
        "rate": (
            "You are sending many messages in a short time. Please wait a minute and then send your message again. "
            "Is someone in danger? Call {alarmnummer}."
        ),
        "crisis_fallback": (
            "Is someone in danger right now? Call {alarmnummer} immediately. Are you thinking about suicide? "
            "Call 113 Suicide Prevention for free on {zelfmoordpreventie_telefoon} or chat via "
            "{zelfmoordpreventie_chat}. Violence at home? Call Veilig Thuis on {veilig_thuis_telefoon}. "
            "Day and night."
        ),
    },
}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


# ------------------------------------------------------------ the state
@dataclass
class ConversationState:
    """Everything the engine needs to continue a conversation. Plain JSON
    types only; ``from_dict(to_dict())`` gives an equal state."""

    conversation_id: str
    channel: str = "chat"
    language: str = "nl"
    step: str = VRAAG
    field: str | None = None          # the startformulier question asked now
    pending: list[str] = _field(default_factory=list)  # questions still to ask
    editing: bool = False             # changing one answer from the summary
    tries: int = 0                    # failed tries at the current question
    answers: dict[str, Any] = _field(default_factory=dict)
    need: dict[str, Any] = _field(default_factory=dict)  # the triage that led to the form
    questions: list[str] = _field(default_factory=list)  # the resident's hulpvraag, message by message
    last_answer_id: str | None = None
    crisis: bool = False
    case_number: str | None = None
    transcript: list[tuple[str, str]] = _field(default_factory=list)  # ("inwoner"|"assistent", text)
    recent: list[float] = _field(default_factory=list)  # times of the last messages (rate limit)
    rate_notice_until: float = 0.0
    messages: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0

    # to_dict, from_dict and copy run several times per chat message: they
    # copy the plain JSON types by hand (dataclasses.asdict and deepcopy took
    # ten times as long) and share nothing mutable with their source.
    def to_dict(self) -> dict:
        d = {name: _clone(getattr(self, name)) for name in _STATE_FIELDS}
        d["transcript"] = [[role, text] for role, text in self.transcript]
        d["version"] = STATE_VERSION
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "ConversationState":
        version = data.get("version", STATE_VERSION)
        if version != STATE_VERSION:
            raise ValueError(f"unknown conversation state version {version!r}")
        kwargs = {k: _clone(v) for k, v in data.items() if k in _STATE_FIELDS_SET}
        kwargs["transcript"] = [(str(r), str(t)) for r, t in data.get("transcript", [])]
        return cls(**kwargs)

    def copy(self) -> "ConversationState":
        """An equal state that shares nothing mutable (``from_dict(to_dict())``)."""
        kwargs = {name: _clone(getattr(self, name)) for name in _STATE_FIELDS}
        kwargs["transcript"] = [(str(r), str(t)) for r, t in self.transcript]
        return ConversationState(**kwargs)

    def set_case_number(self, number: str) -> None:
        """The caller created (or found) the case: remember its number and
        put it into the transcript where the replies held ``{case}``."""
        self.case_number = number
        self.transcript = [(r, t.replace(CASE_TOKEN, number) if r == "assistent" else t) for r, t in self.transcript]


_STATE_FIELDS = tuple(f.name for f in dc_fields(ConversationState) if f.name != "transcript")
_STATE_FIELDS_SET = frozenset(_STATE_FIELDS)
_IMMUTABLE = (str, int, float, bool, type(None))


def _clone(value):
    """A deep copy of plain JSON-like data (dict, list, tuple, scalars);
    anything else goes through copy.deepcopy."""
    if isinstance(value, _IMMUTABLE):
        return value
    kind = type(value)
    if kind is dict:
        return {k: _clone(v) for k, v in value.items()}
    if kind is list:
        return [_clone(v) for v in value]
    if kind is tuple:
        return tuple(_clone(v) for v in value)
    return copy.deepcopy(value)


def fill_case_number(replies: list[str], number: str) -> list[str]:
    """Replace the ``{case}`` token in replies (plain replace: braces the
    resident typed are left alone)."""
    return [r.replace(CASE_TOKEN, number) for r in replies]


# ------------------------------------------------------------ validators
_WORD_RX = re.compile(r"[\w'’]+", re.U)


def _plain(text: str) -> str:
    t = text.lower().replace("’", "'")
    t = re.sub(r"[👍✅]", " ja ", t)
    t = re.sub(r"[👎❌]", " nee ", t)
    t = re.sub(r"[^\w'\s]", " ", t)
    return " ".join(t.split())


_YES_IDIOMS = re.compile(
    r"\b(?:geen\s+probleem|geen\s+bezwaar|(?:vind\s+ik\s+)?niet\s+erg|no\s+problem|not\s+a\s+problem|"
    r"(?:i\s+)?(?:don'?t|do\s+not)\s+mind|of\s+course|why\s+not|waarom\s+niet)\b")
_UNSURE = re.compile(
    r"\b(?:weet\s+(?:ik\s+)?(?:het\s+)?niet|geen\s+idee|misschien|twijfel|(?:i\s+)?(?:don'?t|do\s+not)\s+know|"
    r"not\s+sure|maybe|perhaps|dunno|hangt\s+(?:er\s+)?van\s+af|it\s+depends)\b")
_NO_WORDS = re.compile(
    r"\b(?:nee|neen|nope|nah|no|niet|geen|nooit|liever\s+niet|rather\s+not|don'?t|do\s+not|never|not|"
    r"weiger|disagree)\b")
_NO_LEAD = ("nee", "neen", "no", "nope", "nah", "niet", "liever", "rather", "never", "nooit")
_YES_WORDS = re.compile(
    r"\b(?:ja|jaa+|jawel|jazeker|jep|jup|yes|yeah|yep|yup|sure|ok|oke|oké|okay|okey|prima|goed|akkoord|"
    r"mag|natuurlijk|zeker|fine|agree|agreed|toestemming|certainly|absolutely|correct|klopt|dat\s+klopt|"
    r"uiteraard|graag|please|allright|alright)\b")
_YES_LEAD = {"ja", "jaa", "jawel", "jazeker", "jep", "jup", "yes", "yeah", "yep", "yup", "sure", "ok", "oke",
             "oké", "okay", "prima", "goed", "akkoord", "natuurlijk", "zeker", "fine", "klopt", "correct",
             "graag", "certainly", "absolutely"}


def parse_yes_no(text: str) -> str | None:
    """'ja', 'nee' or None (unclear) for a short answer in words, Dutch or
    English: "ja hoor", "dat mag", "liever niet", "dat mag niet", "no thanks",
    "geen probleem". Consent is never guessed: an unclear answer is None."""
    t = _plain(text)
    if not t or len(t.split()) > 15:
        return None
    if _UNSURE.search(t):
        return None
    t = _YES_IDIOMS.sub(" ja ", t)
    has_no = bool(_NO_WORDS.search(t))
    has_yes = bool(_YES_WORDS.search(t))
    first = t.split()[0]
    if has_no and has_yes:
        if first in _NO_LEAD:
            return "nee"
        if first in _YES_LEAD:
            return None  # "ja, maar liever niet": ask again
        return "nee"  # "dat mag niet", "niet goed", "I don't agree"
    if has_no:
        return "nee"
    if has_yes:
        return "ja"
    return None


_SKIP = re.compile(
    r"^(?:overslaan|sla\s+(?:maar\s+)?over|skip|pass|weet\s+ik\s+niet|weet\s+niet|wil\s+ik\s+niet\s+(?:zeggen|geven)|"
    r"liever\s+niet|zeg\s+ik\s+liever\s+niet|rather\s+not(?:\s+say)?|i'?d\s+rather\s+not(?:\s+say)?|"
    r"(?:i\s+)?(?:don'?t|do\s+not)\s+know|geen\s+(?:vaste\s+)?(?:woonplaats|adres|huis|woning)|"
    r"(?:no|none|without)\s+(?:fixed\s+)?(?:address|home)|dakloos|homeless)$")
_NO_CONTACT = re.compile(
    r"^(?:geen|geen\s+(?:van\s+(?:beide|allebei)|telefoon|e-?mail|telefoon\s+(?:en|of)\s+(?:geen\s+)?e-?mail)"
    r"(?:\s+(?:en|of)\s+(?:geen\s+)?(?:e-?mail|telefoon))?|heb\s+ik\s+niet|(?:ik\s+)?heb\s+(?:geen|niks|niets)(?:\s+\w+){0,4}|"
    r"via\s+(?:de|deze)\s+chat|hier|none|neither|no\s+(?:phone|e-?mail)(?:\s+(?:and|or)\s+no\s+(?:phone|e-?mail))?|"
    r"i\s+(?:don'?t|do\s+not)\s+have\s+(?:one|any|a\s+phone|e-?mail|a\s+phone\s+or\s+e-?mail)|through\s+(?:the|this)\s+chat|"
    r"overslaan|skip|liever\s+niet|rather\s+not)$")


def _is_skip(text: str) -> bool:
    return bool(_SKIP.match(_plain(text)))


_NAME_INTRO = re.compile(
    r"^\s*(?:(?:hallo|hoi|hi|hello|hey|goedemorgen|goedemiddag|goedenavond)[\s,!.]+)?"
    r"(?:mijn\s+naam\s+is|ik\s+heet|ik\s+ben|naam\s*:|my\s+name\s+is|name\s*:|i\s+am|i'?m|this\s+is|it'?s|met)\s+",
    re.I)
_NAME_TITLE = re.compile(r"^(?:(?:mw|mevr|mevrouw|dhr|de\s+heer|meneer|mr|mrs|ms|miss|mej)\.?\s+)+", re.I)
_NAME_TOKEN = re.compile(r"^[^\W\d_](?:[^\W\d_]|['’.\-](?=[^\W\d_])|\.$)*\.?$", re.U)
_NOT_IN_NAME = {
    "ik", "mijn", "m'n", "niet", "wil", "wat", "waarom", "hoe", "is", "heb", "ben", "dat", "dit", "een", "en", "maar",
    "want", "omdat", "help", "hulp", "weet", "geen", "ja", "nee", "jawel", "nou", "oke", "ok", "okay", "hallo", "hoi",
    "the", "my", "not", "what", "why", "how", "i", "yes", "no", "and", "but", "have", "want", "am", "is", "please",
    "graag", "u", "jij", "je", "ze", "zij", "hij", "we", "wij", "waar", "wanneer", "kan", "moet", "zou", "kunt",
    "stop", "opnieuw", "telefoon", "nummer", "adres", "postcode", "email", "e-mail", "you", "your", "bang", "dood",
    "overslaan", "skip", "weet", "niks", "niets", "nothing", "bedankt", "dank", "thanks", "sorry", "goed", "prima",
}


def parse_name(text: str) -> str | None:
    """The resident's name as written, without "ik heet" or a title; None
    when the answer does not look like a name."""
    s = " ".join(text.strip().split()).strip(" .,!")
    s = _NAME_INTRO.sub("", s)
    s = _NAME_TITLE.sub("", s).strip(" .,!")
    if not s or len(s) > 80 or len(s) < 2:
        return None
    words = s.split()
    if not 1 <= len(words) <= 6:
        return None
    for w in words:
        if not _NAME_TOKEN.match(w) or w.lower().strip(".") in _NOT_IN_NAME:
            return None
    return s


_EMAIL = re.compile(r"^[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[a-z]{2,}$", re.I)
_EMAIL_IN = re.compile(r"[\w.+\-]*@[\w.\-]*", re.U)
_PHONE_IN = re.compile(r"(?:\+|\(\s*0|\b0)[\d\s\-().+/]{5,22}\d|\b\d[\d\s\-./]{4,20}\d\b")


def parse_contact(text: str) -> tuple[dict[str, str] | None, str | None]:
    """({'telefoon': ..., 'email': ...}, None) when the answer holds a valid
    Dutch phone number and/or e-mail address; ({}, None) when the resident has
    none ("geen"); (None, error key) otherwise: err_phone for a number that
    is no Dutch phone number, err_email for a broken address."""
    found: dict[str, str] = {}
    bad_phone = bad_email = False
    raw = text.strip()
    for m in _EMAIL_IN.finditer(raw):
        cand = m.group(0).strip(".,;:")
        if not cand or "@" not in cand:
            continue
        if _EMAIL.match(cand) and "email" not in found:
            found["email"] = cand.lower()
        elif not _EMAIL.match(cand):
            bad_email = True
    rest = _EMAIL_IN.sub(" ", raw)
    for m in _PHONE_IN.finditer(rest):
        phone = normalize_phone(m.group(0))
        if phone and "telefoon" not in found:
            found["telefoon"] = phone
        elif not phone:
            bad_phone = True
    if found:
        return found, None
    if bad_email:
        return None, "err_email"
    if bad_phone or len(re.findall(r"\d", rest)) >= 4:
        return None, "err_phone"
    if _NO_CONTACT.match(_plain(raw)):
        return {}, None
    return None, "err_contact"


_POSTCODE = re.compile(r"(?<![\w])([1-9]\d{3})\s?([A-Za-z]{2})(?![A-Za-z])")
_HOUSE = re.compile(r"(?<![\w])([1-9]\d{0,4})(?:\s?([A-Za-z]{1,2})\b|(-[A-Za-z0-9]{1,4})\b)?")
_NOT_HOUSE_LETTERS = {"in", "te", "en", "nl", "at", "op", "de", "of", "nr"}
_BAD_POSTCODE_LETTERS = {"SA", "SD", "SS"}


def parse_address(text: str) -> tuple[dict[str, str] | None, str | None]:
    """({'postcode': '1781 AB', 'huisnummer': '12A'}, None) or (None,
    'err_adres' | 'err_huisnummer')."""
    raw = " ".join(text.split())
    m = None
    for cand in _POSTCODE.finditer(raw):
        if cand.group(2).upper() not in _BAD_POSTCODE_LETTERS:
            m = cand
            break
    if m is None:
        return None, "err_adres"
    postcode = f"{m.group(1)} {m.group(2).upper()}"
    rest = raw[:m.start()] + " , " + raw[m.end():]
    house = None
    for hm in _HOUSE.finditer(rest):
        letters = hm.group(2) or ""
        if letters.lower() in _NOT_HOUSE_LETTERS:
            letters = ""
        house = hm.group(1) + letters.upper() + (hm.group(3) or "")
        break
    if house is None:
        return None, "err_huisnummer"
    return {"postcode": postcode, "huisnummer": house}, None


_CALL_TIME = re.compile(
    r"ochtend|morgens|middag|avond|maakt\s+(?:\w+\s+)?niet\s+(?:zo(?:veel)?\s+)?uit|altijd|hele\s+dag|elk\s+moment|"
    r"wanneer\s+(?:u|je|jullie)\s+(?:wil|wilt|willen)|maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag|"
    r"weekend|doordeweeks|werkdag|vandaag|morgen|\bnu\b|direct|meteen|zo\s+snel|overdag|lunch|"
    r"\d{1,2}(?:[:.]\d{2})?\s*(?:uur|u\b|h\b)|\b(?:na|voor|tussen|vanaf|tot|rond|om|na\s+half)\s+\d|half\s+\w+|"
    r"morning|afternoon|evening|any\s*time|whenever|doesn'?t\s+matter|does\s+not\s+matter|all\s+day|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekdays?|today|tomorrow|\bnow\b|asap|"
    r"\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm)\b|o'?clock|\b(?:after|before|between|from|around|at)\s+\d|"
    r"\d{1,2}[:.]\d{2}|\b\d{1,2}\s*-\s*\d{1,2}\b",
    re.I)


def valid_call_time(text: str) -> str | None:
    """The best time to call as written, when it names a time of day, a day,
    a clock time or "maakt niet uit"; otherwise None."""
    s = " ".join(text.strip().split())
    if not s or len(s) > 120:
        return None
    return s if _CALL_TIME.search(s) else None


_GREETING_ONLY = re.compile(
    r"^(?:(?:hallo|hoi|hi|hey|hello|hee|goedemorgen|goedemiddag|goedenavond|goedendag|dag|beste|good\s+(?:morning|"
    r"afternoon|evening)|daar\s+ben\s+ik)[\s,!.]*)+(?:(?:ik\s+heb\s+(?:een\s+)?(?:vraag|vraagje)|i\s+have\s+a\s+question|"
    r"can\s+you\s+help(?:\s+me)?|kunt\s+u\s+(?:mij|me)\s+helpen|is\s+(?:daar\s+)?iemand|anyone\s+there)[\s?.!]*)?$"
    r"|^(?:ik\s+heb\s+(?:een\s+)?(?:vraag|vraagje)|i\s+have\s+a\s+question|kunt\s+u\s+(?:mij|me)\s+helpen|"
    r"can\s+you\s+help(?:\s+me)?|vraag|test)[\s?.!]*$",
    re.I)
_THANKS_ONLY = re.compile(
    r"^(?:(?:heel\s+erg\s+|hartstikke\s+|super\s+)?(?:bedankt|dank\s*(?:je|u)?(?:\s*wel)?|thanks?(?:\s+you)?(?:\s+very\s+much)?|"
    r"thank\s+you|top|fijn|oké?|ok|prima|duidelijk)(?:\s+(?:voor\s+(?:de\s+)?(?:hulp|informatie|info|uw\s+hulp)|"
    r"for\s+(?:the\s+|your\s+)?(?:help|information|info)))?[\s!.]*)+$",
    re.I)
_COMMANDS = {
    "stop": {"stop", "stoppen", "/stop", "quit", "exit", "cancel", "einde", "afsluiten", "ophouden"},
    "opnieuw": {"opnieuw", "/opnieuw", "opnieuw beginnen", "begin opnieuw", "restart", "/restart", "start over",
                "start again", "reset", "/reset", "/start"},
}
_EN_HINT = {"the", "and", "my", "i", "is", "to", "for", "we", "have", "you", "with", "what", "how", "can", "do", "help",
            "please", "our", "me", "need", "would", "like", "are", "this", "of", "it", "in", "not", "hello", "hi"}
_NL_HINT = {"de", "het", "en", "ik", "een", "is", "van", "mijn", "niet", "met", "voor", "op", "dat", "wij", "ze",
            "hij", "hoe", "wat", "kan", "heb", "jullie", "graag", "zijn", "er", "maar", "u", "naar", "hallo", "ja",
            "nee", "mag", "goed", "wil", "hulp", "weet", "geen", "heet"}


def _command(text: str) -> str | None:
    t = " ".join(text.strip().lower().strip(" .!").split())
    for cmd, words in _COMMANDS.items():
        if t in words:
            return cmd
    return None


def _language(current: str, text: str) -> str:
    """Switch to English when the message reads as English; back to Dutch
    only on clear Dutch. "ja", "ok" or a name keep the language."""
    if detect_language(text) == "en":
        return "en"
    if current == "en":
        words = re.findall(r"[a-zA-Z']+", text.lower())
        nl = sum(w in _NL_HINT for w in words)
        en = sum(w in _EN_HINT for w in words)
        if nl >= 2 and nl > en:
            return "nl"
    return current


def _ts(now: float | datetime | None) -> float:
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        return now.timestamp()
    return float(now)


# ------------------------------------------------------------ the engine
class _Turn:
    """Replies and actions produced while handling one message."""

    def __init__(self):
        self.replies: list[str] = []
        self.actions: list[dict] = []


class Engine:
    """The conversation engine. ``triage``: a loaded :class:`triage.pipeline.Triage`
    (anything with ``classify(text, channel=...)`` and, optionally, a
    ``kennisbank``). ``municipality``: the numbers in the replies (default:
    the triage's municipality)."""

    def __init__(self, triage, municipality: Municipality | None = None, *, max_chars: int = 4000,
                 rate_limit: int = 20, rate_window: float = 60.0, form_crisis_min_probability: float = 0.6):
        self.triage = triage
        self.municipality = municipality or triage.municipality
        self.values = self.municipality.placeholders()
        self.kennisbank = getattr(triage, "kennisbank", None)
        self.max_chars = max_chars
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.form_crisis_min_probability = form_crisis_min_probability
        routing = dict(self.municipality.routing)
        self.min_answer_score = float(routing.get("auto_answer_min_answer_score", 0.5))

    # ------------------------------------------------------------ public
    def start(self, conversation_id: str, channel: str = "chat", language: str | None = None,
              now: float | datetime | None = None) -> tuple[ConversationState, list[str]]:
        """A new conversation and its greeting with the privacy notice.
        ``language``: a hint from the channel ('en' for an English client)."""
        ts = _ts(now)
        state = ConversationState(conversation_id=str(conversation_id), channel=channel,
                                  language="en" if language and language.lower().startswith("en") else "nl",
                                  created_at=ts, updated_at=ts)
        greeting = self._t(state, "greeting")
        state.transcript.append(("assistent", greeting))
        return state, [greeting]

    def handle(self, state: ConversationState, text: str, now: float | datetime | None = None
               ) -> tuple[ConversationState, list[str], list[dict]]:
        """One message of the resident. Returns a new state (the given one is
        not changed, so a failed store transaction can simply be retried),
        the replies in order, and the actions for the caller."""
        st = state.copy()
        ts = _ts(now)
        st.updated_at = ts
        turn = _Turn()
        text = text if isinstance(text, str) else ""
        step_before = st.step

        if len(text) > self.max_chars:
            st.transcript.append(("inwoner", f"[bericht van {len(text)} tekens niet gelezen]"))
            self._say(st, turn, self._t(st, "too_long", n=len(text), max=self.max_chars))
            turn.actions.append(self._action(st, "refused", reason="too_long", chars=len(text)))
            log.info("chat message refused: too long (%d chars)", len(text))
            return self._done(st, turn)

        st.recent = [t for t in st.recent if 0 <= ts - t < self.rate_window]
        limited = len(st.recent) >= self.rate_limit
        st.recent = (st.recent + [ts])[-(self.rate_limit + 5):]
        clean = text.strip()
        st.messages += 1
        st.transcript.append(("inwoner", clean))

        if limited:
            if crisis_mod.detect(clean):  # a crisis is never silent, not even in a flood
                self._crisis(st, turn, clean, None)
                return self._done(st, turn)
            if st.rate_notice_until <= ts:
                st.rate_notice_until = ts + self.rate_window
                self._say(st, turn, self._t(st, "rate"))
                turn.actions.append(self._action(st, "refused", reason="rate_limited"))
                log.info("chat message refused: rate limit")
            return self._done(st, turn)

        if not clean:
            self._say(st, turn, self._t(st, "empty"))
            return self._done(st, turn)

        st.language = _language(st.language, clean)
        cmd = _command(clean)
        if cmd == "stop":
            self._stop(st, turn)
            return self._done(st, turn)
        if cmd == "opnieuw":
            self._restart(st, turn)
            return self._done(st, turn)
        if st.step == GESTOPT:
            self._reset(st, keep_crisis=False)
            self._say(st, turn, self._t(st, "greeting"))

        result = self.triage.classify(clean, channel="chat")
        handler = {
            VRAAG: self._on_question, NA_ANTWOORD: self._on_after_answer, AANBOD: self._on_offer,
            FORM: self._on_form, BEVESTIGEN: self._on_confirm, KLAAR: self._on_question,
        }.get(st.step, self._on_question)
        handler(st, turn, clean, result)
        if st.step != step_before:
            log.info("chat step %s -> %s (%s)", step_before, st.step, result.category)
        return self._done(st, turn)

    # ------------------------------------------------------------ steps
    def _on_question(self, st: ConversationState, turn: _Turn, text: str, result) -> None:
        """A free message: a question, a support need or a crisis."""
        if self._is_crisis(text, result, structured=False, free=True):
            self._crisis(st, turn, text, result)
            return
        if _THANKS_ONLY.match(text.strip()):
            self._say(st, turn, self._t(st, "thanks"))
            st.step = KLAAR if st.step == KLAAR else VRAAG
            return
        if _GREETING_ONLY.match(text.strip()):
            self._say(st, turn, self._t(st, "ask_question"))
            return
        answer_id = self._answer_for(result)
        if answer_id:
            self._say(st, turn, self._render(answer_id, st.language))
            self._say(st, turn, self._t(st, "answered_q"))
            turn.actions.append(self._action(st, "answered", answer_id=answer_id, category=result.category,
                                             route=result.route, question=text))
            st.last_answer_id = answer_id
            st.questions.append(text)
            if not st.case_number:
                self._set_need(st, result)
            st.step = NA_ANTWOORD
            return
        st.questions.append(text)
        if st.case_number:
            self._add_to_case(st, turn, text)
            return
        self._set_need(st, result)
        if result.category in ("enkelvoudig", "meervoudig"):
            self._start_form(st, turn, "form_intro_support")
            return
        if len(_WORD_RX.findall(text)) < 3:
            st.questions.pop()
            self._say(st, turn, self._t(st, "ask_question"))
            return
        self._say(st, turn, self._t(st, "no_answer"))
        st.step = AANBOD

    def _on_after_answer(self, st: ConversationState, turn: _Turn, text: str, result) -> None:
        yn = parse_yes_no(text)
        if yn is None:
            self._on_question(st, turn, text, result)
            return
        if self._is_crisis(text, result, structured=True):
            self._crisis(st, turn, text, result)
            return
        turn.actions.append(self._action(st, "answer_feedback", answer_id=st.last_answer_id, helpful=yn == "ja"))
        if yn == "ja":
            self._say(st, turn, self._t(st, "answered_yes"))
            if st.case_number:
                st.step = KLAAR
            else:
                st.step, st.need, st.questions = VRAAG, {}, []
            return
        if st.case_number:
            self._add_to_case(st, turn, st.questions[-1] if st.questions else text)
            return
        self._say(st, turn, self._t(st, "answered_no"))
        st.need["route"] = "kcc_review"
        st.step = AANBOD

    def _on_offer(self, st: ConversationState, turn: _Turn, text: str, result) -> None:
        yn = parse_yes_no(text)
        if yn is None:
            self._on_question(st, turn, text, result)
            return
        if self._is_crisis(text, result, structured=True):
            self._crisis(st, turn, text, result)
            return
        if yn == "ja":
            st.need.setdefault("route", "kcc_review")
            if st.need.get("category") == "info_advies":
                st.need["route"] = "kcc_review"
            self._start_form(st, turn, "form_intro_kcc")
            return
        self._say(st, turn, self._t(st, "offer_no"))
        st.step = VRAAG
        st.need = {}
        st.questions = []

    def _on_form(self, st: ConversationState, turn: _Turn, text: str, result) -> None:
        fld = st.field or FORM_FIELDS[0]
        value, error, skipped = self._validate(fld, text, result)
        if self._is_crisis(text, result, structured=value is not None or skipped):
            self._crisis(st, turn, text, result)
            return
        if value is not None or skipped:
            notes = self._store_answer(st, fld, value, skipped)
            for n in notes:
                self._say(st, turn, n)
            self._next_question(st, turn)
            return
        # not an answer: maybe a question of its own, or more about the need
        answer_id = self._answer_for(result)
        words = len(_WORD_RX.findall(text))
        if answer_id and (text.rstrip().endswith("?") or words >= 5):
            self._say(st, turn, self._render(answer_id, st.language))
            turn.actions.append(self._action(st, "answered", answer_id=answer_id, category=result.category,
                                             route=result.route, question=text))
            self._say(st, turn, self._question(st, fld))
            return
        if result.category in ("enkelvoudig", "meervoudig") and words >= 8:
            st.questions.append(text)
            self._merge_need(st, result)
            self._say(st, turn, self._t(st, "added_to_question") + "\n\n" + self._question(st, fld))
            return
        st.tries += 1
        if st.tries >= MAX_TRIES:
            self._store_answer(st, fld, None, True)
            self._say(st, turn, self._t(st, "gave_up"))
            self._next_question(st, turn)
            return
        self._say(st, turn, self._t(st, error or "err_yes_no") + "\n\n" + self._question(st, fld))

    def _on_confirm(self, st: ConversationState, turn: _Turn, text: str, result) -> None:
        items = self._summary_items(st)
        t = text.strip().strip(".")
        number = int(t) if re.fullmatch(r"\d{1,2}", t) else None
        yn = parse_yes_no(text)
        structured = yn is not None or number is not None
        if self._is_crisis(text, result, structured=structured):
            self._crisis(st, turn, text, result)
            return
        if number is not None and 1 <= number <= len(items):
            st.field = items[number - 1][0]
            st.editing = True
            st.tries = 0
            st.step = FORM
            self._say(st, turn, self._question(st, st.field))
            return
        if yn == "ja":
            self._create_case(st, turn)
            return
        if yn == "nee":
            self._say(st, turn, self._t(st, "summary_which", n=len(items)))
            return
        self._say(st, turn, self._t(st, "summary_q", n=len(items)))

    # ------------------------------------------------------------ form
    def _start_form(self, st: ConversationState, turn: _Turn, intro: str) -> None:
        order = list(FORM_FIELDS)
        st.step = FORM
        st.field = order[0]
        st.pending = order[1:]
        st.tries = 0
        st.editing = False
        self._say(st, turn, self._t(st, intro))
        self._say(st, turn, self._question(st, st.field))

    def _validate(self, fld: str, text: str, result) -> tuple[Any, str | None, bool]:
        """(value, error key, skipped)."""
        if fld == "naam":
            if _is_skip(text):
                return None, None, True
            name = parse_name(text)
            if name is None:
                extracted = (getattr(result, "fields", None) or {}).get("naam")
                if extracted and len(text) <= 120 and parse_name(extracted):
                    name = extracted
            return (name, None, False) if name else (None, "err_naam", False)
        if fld == "contact":
            found, err = parse_contact(text)
            if found is None:
                return None, err, False
            return found, None, False  # {} = no phone, no e-mail
        if fld == "adres":
            if _is_skip(text):
                return None, None, True
            found, err = parse_address(text)
            return (found, None, False) if found else (None, err, False)
        if fld in ("toestemming_wijkteam", "toestemming_derden"):
            yn = parse_yes_no(text)
            return (yn, None, False) if yn else (None, "err_yes_no", False)
        if fld == "beltijd":
            if _is_skip(text):
                return None, None, True
            when = valid_call_time(text)
            return (when, None, False) if when else (None, "err_beltijd", False)
        raise ValueError(fld)

    def _store_answer(self, st: ConversationState, fld: str, value: Any, skipped: bool) -> list[str]:
        """Keep an answer; returns notes for the resident."""
        notes: list[str] = []
        a = st.answers
        if fld == "naam":
            a["naam"] = value if value else "onbekend"
        elif fld == "contact":
            a.pop("telefoon", None)
            a.pop("email", None)
            if value:
                a.update(value)
                a["contact"] = "ja"
            else:
                a["contact"] = "chat" if value == {} else "onbekend"
                if value == {}:
                    notes.append(self._t(st, "no_contact"))
            if "telefoon" not in a:
                a.pop("beltijd", None)
        elif fld == "adres":
            if value:
                a["postcode"], a["huisnummer"] = value["postcode"], value["huisnummer"]
                a["adres"] = "ja"
                lo, hi = self.municipality.postcode_range
                if not lo <= int(value["postcode"][:4]) <= hi:
                    notes.append(self._t(st, "outside"))
            else:
                a.pop("postcode", None)
                a.pop("huisnummer", None)
                a["adres"] = "onbekend"
        elif fld in ("toestemming_wijkteam", "toestemming_derden"):
            a[fld] = value if value in ("ja", "nee") else "onbekend"
        elif fld == "beltijd":
            a["beltijd"] = value if value else "onbekend"
        st.tries = 0
        return notes

    def _next_question(self, st: ConversationState, turn: _Turn) -> None:
        st.tries = 0
        if st.editing:
            # changing one answer: a new phone number still needs a call time
            if "telefoon" in st.answers and "beltijd" not in st.answers and st.field != "beltijd":
                st.field = "beltijd"
                self._say(st, turn, self._question(st, "beltijd"))
                return
            st.editing = False
            self._show_summary(st, turn)
            return
        while st.pending:
            nxt = st.pending.pop(0)
            if nxt in st.answers and nxt != "beltijd":
                continue  # answered before (a crisis form keeps what it has)
            if nxt == "beltijd" and "telefoon" not in st.answers:
                continue  # nobody to call
            st.field = nxt
            self._say(st, turn, self._question(st, nxt))
            return
        self._show_summary(st, turn)

    def _summary_items(self, st: ConversationState) -> list[tuple[str, str, str]]:
        a = st.answers

        def val(v: str | None) -> str:
            if v in (None, "", "onbekend"):
                return self._t(st, "val_onbekend")
            if v in ("ja", "nee"):
                return self._t(st, f"val_{v}")
            return v

        if a.get("telefoon") and a.get("email"):
            contact = ("contact", self._t(st, "lbl_contact"), f"{a['telefoon']}, {a['email']}")
        elif a.get("telefoon"):
            contact = ("contact", self._t(st, "lbl_telefoon"), a["telefoon"])
        elif a.get("email"):
            contact = ("contact", self._t(st, "lbl_email"), a["email"])
        else:
            contact = ("contact", self._t(st, "lbl_contact"),
                       self._t(st, "val_chat") if a.get("contact") == "chat" else self._t(st, "val_onbekend"))
        adres = f"{a['postcode']} {a['huisnummer']}" if a.get("postcode") else None
        items = [
            ("naam", self._t(st, "lbl_naam"), val(a.get("naam"))),
            contact,
            ("adres", self._t(st, "lbl_adres"), val(adres)),
            ("toestemming_wijkteam", self._t(st, "lbl_toestemming_wijkteam"), val(a.get("toestemming_wijkteam"))),
            ("toestemming_derden", self._t(st, "lbl_toestemming_derden"), val(a.get("toestemming_derden"))),
        ]
        if a.get("telefoon"):
            items.append(("beltijd", self._t(st, "lbl_beltijd"), val(a.get("beltijd"))))
        return items

    def _show_summary(self, st: ConversationState, turn: _Turn) -> None:
        items = self._summary_items(st)
        lines = [self._t(st, "summary_head")]
        lines += [f"{i}. {label}: {value}" for i, (_, label, value) in enumerate(items, 1)]
        lines += ["", self._t(st, "summary_q", n=len(items))]
        st.step = BEVESTIGEN
        st.field = None
        self._say(st, turn, "\n".join(lines))

    def _case_fields(self, st: ConversationState) -> dict:
        """The startformulier in the labeling guide's form: extracted fields of
        the hulpvraag, overwritten by what the resident answered."""
        fields = dict(st.need.get("fields") or {})
        a = st.answers
        if a.get("naam") and a["naam"] != "onbekend":
            fields["naam"] = a["naam"]
        if a.get("contact") in ("ja", "chat"):
            fields.pop("telefoon", None)
            fields.pop("email", None)
        for k in ("telefoon", "email", "postcode", "huisnummer"):
            if a.get(k):
                fields[k] = a[k]
        if a.get("beltijd") and a["beltijd"] != "onbekend":
            fields["beltijd"] = a["beltijd"]
        for k in ("toestemming_wijkteam", "toestemming_derden"):
            fields[k] = a.get(k) or "onbekend"
        if a.get("contact") == "chat":
            fields["bereikbaar"] = "chat"
        fields.setdefault("aanmelder", "inwoner")
        return fields

    def _consent(self, st: ConversationState) -> str:
        w, d = st.answers.get("toestemming_wijkteam"), st.answers.get("toestemming_derden")
        if "nee" in (w, d):
            return "nee"
        if w == d == "ja":
            return "ja"
        return "onbekend"

    def _create_case(self, st: ConversationState, turn: _Turn) -> None:
        need = st.need
        fields = self._case_fields(st)
        crisis = st.crisis or need.get("category") == "crisis"
        turn.actions.append(self._action(
            st, "create_case", category="crisis" if crisis else need.get("category", "info_advies"),
            domains=list(need.get("domains") or []), confidence=need.get("confidence"),
            route="crisis" if crisis else (need.get("route") or "kcc_review"),
            priority="spoed" if crisis else need.get("priority"),
            destination=need.get("destination") or ("KCC" if need.get("route") in (None, "kcc_review") else None),
            answer_id=need.get("answer_id"), fields=fields,
            consent=self._consent(st), hulpvraag=self._hulpvraag(st), reasons=list(need.get("reasons") or []),
            wijk=self.municipality.wijk_for_postcode(fields.get("postcode"))))
        number = st.case_number or CASE_TOKEN
        self._say(st, turn, self._t(st, "done_crisis" if crisis else "done", case=number))
        st.step = KLAAR
        st.field = None
        st.pending = []

    def _add_to_case(self, st: ConversationState, turn: _Turn, text: str) -> None:
        turn.actions.append(self._action(st, "add_message", text=text))
        self._say(st, turn, self._t(st, "added", case=st.case_number or CASE_TOKEN))
        st.step = KLAAR

    # ------------------------------------------------------------ crisis
    def _is_crisis(self, text: str, result, structured: bool, free: bool = False) -> bool:
        """The crisis rules on every message. The model's crisis decision
        counts in full on a free message (a question); on an answer to a
        question (``free`` False) only when the answer is no valid answer and
        the model is sure: short answers such as "1781" or "in the morning"
        fool it otherwise. A valid answer (``structured``) is checked by the
        rules alone."""
        if crisis_mod.detect(text):
            return True
        if result is None or structured:
            return False
        if not (result.category == "crisis" or result.route == "crisis"):
            return False
        if free:
            return True
        p = float((getattr(result, "probabilities", None) or {}).get("crisis", 1.0))
        return p >= self.form_crisis_min_probability and len(_WORD_RX.findall(text)) >= 3

    def _crisis(self, st: ConversationState, turn: _Turn, text: str, result) -> None:
        """Crisis numbers at once, the case to the top of the queue, then
        carry on so the wijkteam can reach the resident."""
        st.crisis = True
        if text not in st.questions:
            st.questions.append(text)
        self._merge_need(st, result, crisis=True)
        self._say(st, turn, self._crisis_text(st.language))
        fields = self._case_fields(st) if st.answers or st.need.get("fields") else {}
        turn.actions.append(self._action(
            st, "escalate_crisis", category="crisis", priority="spoed", route="crisis",
            destination=st.need.get("destination") or "Bureaudienst (crisis)",
            domains=list(st.need.get("domains") or []), fields=fields, consent=self._consent(st),
            hulpvraag=self._hulpvraag(st), reasons=list(st.need.get("reasons") or [])))
        log.warning("chat crisis detected: escalated (step %s)", st.step)
        case_line = self._t(st, "crisis_case_known" if st.case_number else "crisis_case_new",
                            case=st.case_number or CASE_TOKEN)
        if st.step == FORM and st.field:
            self._say(st, turn, case_line + "\n\n" + self._t(st, "form_continue_crisis") + "\n\n"
                      + self._question(st, st.field))
        elif st.step == BEVESTIGEN:
            self._say(st, turn, case_line)
            self._show_summary(st, turn)
        elif st.step == KLAAR:
            self._say(st, turn, case_line)
        else:
            self._say(st, turn, case_line)
            self._start_form_crisis(st, turn)

    def _start_form_crisis(self, st: ConversationState, turn: _Turn) -> None:
        order = list(CRISIS_FORM_FIELDS)
        st.step = FORM
        st.field = order[0]
        st.pending = order[1:]
        st.tries = 0
        st.editing = False
        self._say(st, turn, self._t(st, "form_intro_crisis") + "\n\n" + self._question(st, st.field))

    def _crisis_text(self, lang: str) -> str:
        """The kennisbank's crisis answer when it names every crisis number;
        otherwise the built-in text. Numbers come from configuration."""
        v = self.values
        need = [v.get("alarmnummer", ""), v.get("zelfmoordpreventie_telefoon", ""), v.get("veilig_thuis_telefoon", "")]
        if self.kennisbank is not None and CRISIS_ANSWER_ID in getattr(self.kennisbank, "answers", {}):
            text = self._render(CRISIS_ANSWER_ID, lang)
            if all(n and n in text for n in need) and "Veilig Thuis" in text:
                return text
        return self._t_lang(lang, "crisis_fallback")

    # ------------------------------------------------------------ commands
    def _stop(self, st: ConversationState, turn: _Turn) -> None:
        if st.case_number:
            stop_case = self._t(st, "stop_case", case=st.case_number)
        elif st.crisis:
            stop_case = self._t(st, "stop_crisis")
        else:
            stop_case = self._t(st, "stop_no_case")
        self._say(st, turn, self._t(st, "stop", stop_case=stop_case))
        turn.actions.append(self._action(st, "end", reason="stop", case_created=bool(st.case_number or st.crisis)))
        st.step = GESTOPT
        st.field = None
        st.pending = []
        log.info("chat stopped by the resident")

    def _restart(self, st: ConversationState, turn: _Turn) -> None:
        self._reset(st, keep_crisis=True)
        self._say(st, turn, self._t(st, "restart") + "\n\n" + self._t(st, "ask_question"))
        turn.actions.append(self._action(st, "restart"))

    def _reset(self, st: ConversationState, keep_crisis: bool) -> None:
        st.step, st.field, st.pending, st.editing, st.tries = VRAAG, None, [], False, 0
        st.answers, st.need, st.questions, st.last_answer_id = {}, {}, [], None
        st.case_number = None
        if not keep_crisis:
            st.crisis = False

    # ------------------------------------------------------------ helpers
    def _answer_for(self, result) -> str | None:
        """A standard answer is given at once to an information question
        whose answer fits well enough; the resident then says whether it
        helped."""
        if result.category != "info_advies" or not result.answer_id or result.answer_id == CRISIS_ANSWER_ID:
            return None
        if self.kennisbank is None or result.answer_id not in getattr(self.kennisbank, "answers", {}):
            return None
        if result.route == "auto_answer":
            return result.answer_id
        score = result.answer_score if result.answer_score is not None else 0.0
        return result.answer_id if score >= self.min_answer_score else None

    def _set_need(self, st: ConversationState, result) -> None:
        st.need = {
            "category": result.category, "domains": list(result.domains), "confidence": result.confidence,
            "route": result.route, "priority": result.priority, "destination": result.destination,
            "answer_id": result.answer_id if result.category == "info_advies" else None,
            "fields": dict(result.fields or {}), "consent": result.consent, "reasons": list(result.reasons or []),
        }
        if st.crisis:
            self._merge_need(st, None, crisis=True)

    def _merge_need(self, st: ConversationState, result, crisis: bool = False) -> None:
        need = st.need
        if not need and result is not None:
            self._set_need(st, result)
            need = st.need
        if result is not None and need is not result:
            for d in result.domains:
                if d not in need.setdefault("domains", []):
                    need["domains"].append(d)
            for k, v in (result.fields or {}).items():
                need.setdefault("fields", {}).setdefault(k, v)
            if SEVERITY.get(result.category, 0) > SEVERITY.get(need.get("category"), -1):
                need.update(category=result.category, route=result.route, priority=result.priority,
                            destination=result.destination, confidence=result.confidence)
            for r in result.reasons or []:
                if r not in need.setdefault("reasons", []):
                    need["reasons"].append(r)
        if crisis:
            need.update(category="crisis", route="crisis", priority="spoed",
                        destination="Bureaudienst (crisis)")

    def _hulpvraag(self, st: ConversationState, limit: int = 2000) -> str:
        text = "\n".join(st.questions)
        return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"

    def _question(self, st: ConversationState, fld: str) -> str:
        return self._t(st, f"q_{fld}")

    def _render(self, answer_id: str, lang: str) -> str:
        a = self.kennisbank.answers[answer_id]
        text = a.answer_en if lang == "en" and a.answer_en else a.answer
        return _PLACEHOLDER.sub(lambda m: self.values.get(m.group(1), m.group(0)), text)

    def _t(self, st: ConversationState, key: str, **extra) -> str:
        return self._t_lang(st.language, key, **extra)

    def _t_lang(self, lang: str, key: str, **extra) -> str:
        template = TEXTS.get(lang, TEXTS["nl"]).get(key) or TEXTS["nl"][key]
        values = {**self.values, **{k: str(v) for k, v in extra.items()}}
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)

    def _say(self, st: ConversationState, turn: _Turn, text: str) -> None:
        turn.replies.append(text)
        st.transcript.append(("assistent", text))

    def _action(self, st: ConversationState, kind: str, **data) -> dict:
        assert kind in ACTION_TYPES
        return {"type": kind, "conversation_id": st.conversation_id, "channel": st.channel,
                "language": st.language, "case_number": st.case_number, **data}

    def _done(self, st: ConversationState, turn: _Turn) -> tuple[ConversationState, list[str], list[dict]]:
        if len(st.transcript) > MAX_TRANSCRIPT:
            st.transcript = st.transcript[-MAX_TRANSCRIPT:]
        return st, turn.replies, turn.actions
