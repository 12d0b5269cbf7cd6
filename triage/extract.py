"""Startformulier extraction on spaCy ``blank("nl")``.

Pipeline: the Dutch tokenizer, an EntityRuler for organisations and places
from configuration, a ``contact_finder`` component that marks e-mail
addresses, phone numbers, postcodes, BSNs, dates and street addresses, and a
Matcher for name triggers ("mijn naam is", "Mw.", "Dhr.", "naam cliënt:").
Validators normalize each value (phone to 06..., postcode to "1781 AB", the
BSN 11-test, dates to ISO). Every value carries its evidence: the words it
came from and their place in the message.

Whose details: the labeling guide. A partner's own signature is never the
resident's; numbers of the municipality and national services are skipped.
Consent is read only from words, never inferred.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import spacy
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc

from .config import Municipality
from .normalize import Normalized

__all__ = ["Extractor", "Extraction", "bsn_valid", "normalize_phone", "parse_date"]


# ----------------------------------------------------------- validators
def bsn_valid(digits: str) -> bool:
    """The BSN 11-test (elfproef)."""
    if not re.fullmatch(r"\d{9}", digits) or digits == "000000000":
        return False
    total = sum(int(digits[i]) * (9 - i) for i in range(8)) - int(digits[8])
    return total % 11 == 0


def normalize_phone(raw: str) -> str | None:
    """'+31 (0)6-12 34 56 78' -> '0612345678'; None when it is no Dutch number."""
    s = raw.strip()
    s = re.sub(r"\(0\)", "", s)
    digits = re.sub(r"\D", "", s)
    if s.startswith("+31") or digits.startswith("0031"):
        digits = digits[2:] if s.startswith("+") else digits[4:]
        digits = "0" + digits.lstrip("0")
    if len(digits) != 10 or not digits.startswith("0") or digits.startswith("00"):
        return None
    if digits.startswith(("0800", "0900", "0880")):
        return None
    return digits


MONTHS = {
    "jan": 1, "januari": 1, "january": 1, "feb": 2, "februari": 2, "february": 2, "mrt": 3, "maart": 3,
    "march": 3, "mar": 3, "apr": 4, "april": 4, "mei": 5, "may": 5, "jun": 6, "juni": 6, "june": 6,
    "jul": 7, "juli": 7, "july": 7, "aug": 8, "augustus": 8, "august": 8, "sep": 9, "sept": 9,
    "september": 9, "okt": 10, "oct": 10, "oktober": 10, "october": 10, "nov": 11, "november": 11,
    "dec": 12, "december": 12,
}
_MONTH_RX = "|".join(sorted(MONTHS, key=len, reverse=True))


def _year(y: str) -> int:
    n = int(y)
    if len(y) == 2:
        n += 1900 if n > date.today().year % 100 else 2000
    return n


def parse_date(raw: str) -> str | None:
    raw = raw.strip().lower().replace(",", " ")
    m = re.fullmatch(r"(\d{1,2})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{2}|\d{4})", raw)
    if m:
        d, mo, y = int(m.group(1)), int(m.group(2)), _year(m.group(3))
    else:
        m = re.fullmatch(rf"(\d{{1,2}})(?:st|nd|rd|th|e)?\s+(?:of\s+)?({_MONTH_RX})\.?\s+(\d{{2}}|\d{{4}})", raw)
        if m:
            d, mo, y = int(m.group(1)), MONTHS[m.group(2)], _year(m.group(3))
        else:
            m = re.fullmatch(rf"({_MONTH_RX})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\s+(\d{{4}})", raw)
            if not m:
                m2 = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", raw)
                if not m2:
                    return None
                y, mo, d = int(m2.group(1)), int(m2.group(2)), int(m2.group(3))
            else:
                mo, d, y = MONTHS[m.group(1)], int(m.group(2)), int(m.group(3))
    try:
        value = date(y, mo, d)
    except ValueError:
        return None
    if not (1900 <= value.year <= date.today().year):
        return None
    return value.isoformat()


# ------------------------------------------------------------ patterns
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[a-zA-Z]{2,}")
_PHONE = re.compile(r"(?<![\w+])(?:\+31|0031|0)[\s\-.()]*(?:0\)?[\s\-.]*)?\d(?:[\s\-.]?\d){8}(?!\d)")
_POSTCODE = re.compile(r"\b([1-9]\d{3})\s?([A-Za-z]{2})\b")
_BSN = re.compile(r"(?<![\d-])(\d{3}[\s.]?\d{2}[\s.]?\d{2}[\s.]?\d{2}|\d{4}[\s.]?\d{2}[\s.]?\d{3}|\d{9})(?![\d-])")
_DATE = re.compile(
    rf"\b(\d{{1,2}}\s*[-/.]\s*\d{{1,2}}\s*[-/.]\s*(?:\d{{4}}|\d{{2}})|\d{{1,2}}(?:st|nd|rd|th|e)?\s+(?:of\s+)?(?:{_MONTH_RX})\.?\s+\d{{4}}|"
    rf"(?:{_MONTH_RX})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|(?:19|20)\d\d-\d\d-\d\d)\b",
    re.I,
)
_BIRTH_CUE = re.compile(r"(?:geb(?:oren)?\b\.?|geboortedatum|geb\.?\s*datum|gebdat|date\s+of\s+birth|d\.?o\.?b\.?|born(?:\s+on)?|birthday|verjaardag|gd)\s*(?:op|on|:)?\s*$", re.I)
_STREET_SUFFIX = (
    r"straat|weg|laan|plein|kade|gracht|dijk|singel|hof|pad|dreef|park|steeg|plantsoen|erf|wal|markt|"
    r"boulevard|baan|zijde|dam|veld|rode|akker|tuin|hoek|polder|duin|strand|haven|werf|linie|street|road|lane|avenue"
)
_STREET = re.compile(
    rf"\b((?:[A-Z][\w'.\-]*\s+){{0,3}}[A-Z][\w'\-]*(?:{_STREET_SUFFIX})|(?:[A-Z][\w'.\-]*\s+){{0,2}}(?:[Vv]an|[Dd]e|[Dd]en|[Dd]er|[Tt]er)\s+[\w'\-]+(?:{_STREET_SUFFIX}))"
    r"\s+(\d{1,4}(?:\s?-?\s?[a-zA-Z]{1,3}\b|\s?-\s?\d{1,3}\b|\s?[Hh]s\b|\s(?:hoog|zw|rd|bis)\b)?)",
)
_STOP_POSTCODE_LETTERS = {
    "en", "de", "op", "in", "is", "om", "te", "ik", "al", "er", "ja", "na", "of", "nu", "zo", "we", "je", "ze", "me",
    "to", "at", "on", "an", "as", "be", "by", "he", "it", "my", "no", "or", "so", "up", "us", "km", "uu", "cm", "kg",
    "pm", "am", "jr", "eu", "mg", "ml", "sa", "sd", "ss", "maal", "ct", "nr", "st",
}
_PREFIXES = r"(?:van|de|der|den|ter|ten|te|het|el|al|ben|da|dos|du|la|le|von|bin|ibn|abu|mc|o')"
_NAME_WORD = r"[A-ZÀ-ÞĀ-Ž][^\W\d_]*[a-zà-ÿā-ž'](?:-[^\W\d_][^\W\d_']+)*"
_NAME = re.compile(
    rf"(?:(?:[A-Z]\.[ \t]?){{1,3}}[ \t]*)?(?:{_PREFIXES}[ \t]+){{0,3}}{_NAME_WORD}(?:[ \t]+(?:(?:{_PREFIXES}[ \t]+){{0,3}}{_NAME_WORD}|[A-Z]\.)){{0,3}}",
)
_TITLES = r"(?:mw|mevr|mevrouw|dhr|de\s+heer|meneer|heer|mr|mrs|ms|miss|mej|mvr|fam|familie)"
_NOT_NAMES = {
    "Den Helder", "Julianadorp", "Huisduinen", "Sociaal Wijkteam", "Wijkteam", "Gemeente", "KCC", "Hallo", "Beste",
    "Geachte", "Hoi", "Hey", "Dear", "Hello", "Hi", "Met", "Groet", "Groeten", "Mvg", "Dank", "Bedankt", "Thanks",
    "Regards", "Kind", "Best", "Verzonden", "Sent", "Tel", "Telefoon", "Mobiel", "Adres", "Email", "E-mail", "Mail",
    "Bericht", "Vraag", "Zorgloket", "Veilig Thuis", "De Wering", "Parlan", "Omring", "Vrijwaard", "MEE", "Woontij",
}
_RELATIVE_NAME = re.compile(
    rf"(?i:mijn|m'n|mn|onze|my|our)\s+(?i:(moeder|vader|broer|zus|zoon|dochter|oma|opa|buurvrouw|buurman|vriend|vriendin|schoonmoeder|schoonvader|tante|oom|"
    rf"mother|father|brother|sister|son|daughter|neighbour|neighbor|grandmother|grandfather|mum|mom|dad))\s*,?\s+({_NAME.pattern})(?:\s*,?\s*\(?(\d{{1,3}})\)?)?"
)
_SELF_INTRO = re.compile(
    rf"(?:mijn\s+naam\s+is|ik\s+ben|ik\s+heet|hier\s+is|my\s+name\s+is|this\s+is|i\s+am|i'm|naam(?:\s+cli[eë]nt)?\s*:|"
    rf"cli[eë]nt(?:e)?\s*:|betreft\s*:?|beller\s*:|inwoner\s*:|naam\s+inwoner\s*:|"
    rf"(?:^|\s){_TITLES}\.?)\s+",
    re.I,
)
_SIGNOFF_LINE = re.compile(r"^\s*(?:(?:met\s+)?(?:vr\.?|vriendelijke)\s*(?:groet(?:en)?|gr\.?)|bedankt|dank\s*(?:je|u)?\s*wel|thank\s+you|many\s+thanks|with\s+kind\s+regards|met\s+vriendelijke\s+groet(?:en)?|vriendelijke\s+groet(?:en)?|hartelijke\s+groet(?:en)?|mvg|m\.v\.g\.?|groet(?:en|jes)?(?:\s+van)?|gr\.?|hoogachtend|liefs|kind\s+regards|best\s+regards|regards|best|thanks|cheers|sincerely|yours\s+sincerely|alvast\s+bedankt|bij\s+voorbaat\s+dank)[\s,.!]*", re.I)

_CONSENT_YES = re.compile(
    r"(?:(?:gaat|ging|is|was|zijn)\s+(?:\w+\s+){0,3}akkoord|akkoord\s+(?:met|voor|dat|om)|(?:geeft|gaf|heeft|hebben|geef|geven)\s+(?:\w+\s+){0,4}toestemming|"
    r"toestemming\s+(?:gegeven|voor|om|is\s+gegeven|verleend|gekregen)|met\s+(?:zijn|haar|hun|mijn|)\s*toestemming|mag\s+(?:\w+\s+){0,4}(?:besproken|gedeeld|delen|bespreken)|"
    r"vind(?:t|en)?\s+(?:het\s+)?(?:goed|prima|oké|oke|ok)\s+dat|stem(?:t|men)?\s+in\s+met|(?:is|zijn)\s+(?:\w+\s+)?(?:ermee|er\s+mee)\s+eens|"
    r"(?:i|we|she|he|they|client)\s+(?:\w+\s+)?(?:agree|agrees|agreed|consent|consents|consented|give\s+(?:my\s+|our\s+)?(?:permission|consent))|"
    r"akkoord\s+te\s+zijn|(?:mag|mogen)\s+(?:\w+\s+){0,5}(?:doorsturen|doorgeven|delen|bespreken|overleggen|contact\s+opnemen\s+met)\b|"
    r"you\s+(?:may|can)\s+share|(?:permission|consent)\s+(?:is\s+)?(?:given|to\s+share)|no\s+objection|geen\s+bezwaar)",
    re.I,
)
_CONSENT_NO = re.compile(
    r"(?:geen\s+toestemming|niet\s+akkoord|(?:wil|wilt|willen|wenst)\s+(?:\w+\s+){0,4}niet\s+(?:dat|dat\s+er)\s+(?:\w+\s+){0,6}(?:gedeeld|besproken|doorgegeven|doorgestuurd|ingelicht|weten|gebeld)|"
    r"(?:niet|nergens)\s+(?:\w+\s+){0,2}(?:delen|gedeeld\s+worden|bespreken|besproken\s+worden)|wil\s+(?:\w+\s+){0,3}geen\s+(?:gegevens|informatie|info)\s+(?:\w+\s+){0,3}(?:delen|gedeeld)|"
    r"(?:geef|geeft|geven|stuur|stuurt)\s+(?:\w+\s+){0,3}(?:niks|niets|geen\s+\w+)\s+(?:\w+\s+){0,3}door|(?:niks|niets)\s+doorgeven|"
    r"(?:wil|wilt|willen)\s+(?:\w+\s+){0,2}niet\s+dat\s+(?:\w+\s+){0,6}(?:betrokken|info|informatie|gegevens)|"
    r"(?:do\s+not|don'?t)\s+(?:\w+\s+){0,2}(?:share|want\s+(?:my|our|this|you)\s+\w*\s*(?:to\s+be\s+)?shared|consent|agree)|not\s+(?:to\s+)?share|no\s+consent|weigert\s+(?:\w+\s+){0,3}toestemming|bezwaar\s+(?:tegen|dat))",
    re.I,
)
_KIDS_RULE = re.compile(
    r"\b(?:(?:mijn|onze|m'n|mn|haar|zijn|hun|de|2|twee|drie|3|4|vier)\s+(?:\w+\s+)?(?:kinderen|kids|kindjes|kleintjes)|(?:mijn|onze|m'n|mn|haar|zijn)\s+(?:zoon|dochter|zoontje|dochtertje|baby|pleegkind)\s+(?:\w+\s+)?(?:van\s+)?\(?(?:1[0-7]|[1-9])\)?(?:\s*(?:jaar|jr|maanden|mnd))?\b|"
    r"(?:zoon|dochter|zoontje|dochtertje)\s*\(\s*(?:1[0-7]|[1-9])\s*\)|(?:my|our)\s+(?:\w+\s+)?(?:children|kids|son|daughter|baby)\b)",
    re.I,
)
_ADULT_CHILD = re.compile(r"(?:zoon|dochter|kinderen|son|daughter)\s+(?:\w+\s+)?(?:van\s+)?\(?(?:1[89]|[2-9]\d)\)?|volwassen", re.I)


@dataclass
class Extraction:
    fields: dict = field(default_factory=dict)
    consent: str = "onbekend"
    evidence: dict = field(default_factory=dict)  # field -> {"text", "part", "start", "end"}


@Language.factory("contact_finder")
def _make_contact_finder(nlp, name):
    return ContactFinder()


class ContactFinder:
    """Marks e-mail, phone, postcode, BSN, date and street spans (regular
    expressions over the doc's text) in ``doc.user_data["contact"]`` as
    (label, start_char, end_char, text), in the order of KINDS."""

    KINDS = (("EMAIL", _EMAIL), ("PHONE", _PHONE), ("POSTCODE", _POSTCODE), ("BSN", _BSN), ("DATE", _DATE), ("STREET", _STREET))

    def __call__(self, doc: Doc) -> Doc:
        text = doc.text  # once per doc
        doc.user_data["contact"] = [(label, m.start(), m.end(), m.group(0))
                                    for label, rx in self.KINDS for m in rx.finditer(text)]
        return doc


class Extractor:
    def __init__(self, municipality: Municipality):
        self.m = municipality
        nlp = spacy.blank("nl")
        ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
        patterns = [{"label": "GPE", "pattern": p} for p in municipality.woonplaatsen]
        orgs = [
            "De Wering", "Woontij", "Zeestad", "Omring", "Vrijwaard", "MEE", "MEE & de Wering", "Parlan", "Bureau Jeugdzorg",
            "GGD", "GGD Hollands Noorden", "Veilig Thuis", "UWV", "Leger des Heils", "Brijder", "Brijder Verslavingszorg",
            "GGZ Noord-Holland-Noord", "Politie", "politie Den Helder", "Humanitas", "Voedselbank", "Voedselbank Den Helder",
            "Kwintes", "Esdégé-Reigersdaal", "Lijn5", "Triade", "Raad voor de Kinderbescherming", "Kinderbescherming",
            "Jeugdbescherming", "Jeugdbescherming Noord", "Schuldhulpverlening", "Stichting Present", "Centrum Jeugd en Gezin",
            "CJG", "Consultatiebureau", "Defensie", "Marine", "Helders Kinderdagverblijf", "Noorderhaven",
        ]
        patterns += [{"label": "ORG", "pattern": o} for o in orgs]
        patterns += [
            {"label": "ORG", "pattern": [{"LOWER": {"IN": ["huisartsenpraktijk", "huisartspraktijk", "gezondheidscentrum",
                                                             "basisschool", "obs", "cbs", "ikc", "kinderopvang",
                                                             "woningcorporatie", "praktijk", "apotheek", "zorgcentrum",
                                                             "verpleeghuis", "woonzorgcentrum", "school"]}},
                                          {"IS_TITLE": True, "OP": "+"}]},
            {"label": "ORG", "pattern": [{"IS_TITLE": True, "OP": "+"}, {"LOWER": {"IN": ["college", "lyceum", "school", "scholengemeenschap"]}}]},
        ]
        ruler.add_patterns(patterns)
        nlp.add_pipe("contact_finder")
        self.nlp = nlp
        self.matcher = Matcher(nlp.vocab)
        self.matcher.add("NAME_TRIGGER", [
            [{"LOWER": {"IN": ["mijn", "my"]}}, {"LOWER": {"IN": ["naam", "name"]}}, {"LOWER": {"IN": ["is", "="]}}],
            [{"LOWER": "ik"}, {"LOWER": {"IN": ["heet", "ben"]}}],
            [{"LOWER": {"IN": ["mw", "mevr", "mevrouw", "dhr", "meneer", "mr", "mrs", "ms", "mej", "mvr", "mw.", "mevr.",
                               "dhr.", "mr.", "mrs.", "ms.", "mej.", "mvr.", "mister", "miss", "mevrou"]}}, {"ORTH": ".", "OP": "?"}],
            [{"LOWER": "de"}, {"LOWER": "heer"}],
            [{"LOWER": "naam"}, {"LOWER": {"IN": ["cliënt", "client", "inwoner", "bewoner"]}, "OP": "?"}, {"ORTH": ":"}],
            [{"LOWER": {"IN": ["cliënt", "client", "cliënte", "beller", "betreft"]}}, {"ORTH": ":"}],
        ])

    # --------------------------------------------------------------
    def extract(self, norm: Normalized, channel: str, aanmelder: str | None = None,
                kinderen_p: float | None = None) -> Extraction:
        out = Extraction()
        partner = channel == "partner" or aanmelder == "partner"
        body = norm.body
        signature = norm.signature
        parts = [("body", body)] + ([("signature", signature)] if signature and not partner else [])
        own_numbers = {normalize_phone(n) for n in (self.m.kcc_phone.replace(" ", ""),)} | {"0223140223"}
        own_emails = {self.m.wijkteam_email.lower()}
        docs: dict[str, Doc] = {}
        for part, text in parts:
            if not text:
                continue
            doc = docs[part] = self.nlp(text)
            self._contacts(doc, text, part, out, own_numbers, own_emails)
            self._places(doc, text, part, out)
            if "naam" not in out.fields:
                self._name_from_matcher(doc, text, part, out, partner, naaste=aanmelder == "naaste")
        if "email" not in out.fields and norm.quoted and channel == "email" and not partner:
            for m in re.finditer(r"(?:schreef|wrote|van|from)\s*:?\s*([^<\n]{0,60}?)\s*<([^<>\s]+@[^<>\s]+)>", norm.quoted, re.I):
                addr = m.group(2).lower()
                if addr not in own_emails and not addr.endswith("@denhelder.nl"):
                    self._put(out, "email", addr, m.group(0), "quoted", m.start(2), m.end(2))
                    break
        if "naam" not in out.fields and signature and channel in ("email", "chat") and aanmelder != "naaste" and not partner:
            self._name_from_signature(signature, out)
        if partner:
            out.fields["aanmelder"] = "partner"
            org = self._organisation(norm, docs)
            if org:
                out.fields["aanmelder_organisatie"] = org[0]
                out.evidence["aanmelder_organisatie"] = org[1]
        else:
            out.fields["aanmelder"] = str(aanmelder) if aanmelder in ("inwoner", "naaste") else "inwoner"
        kid_rule = _KIDS_RULE.search(body)
        if (kid_rule and not _ADULT_CHILD.search(kid_rule.group(0))) or (kinderen_p is not None and kinderen_p >= 0.6):
            out.fields["kinderen"] = True
            if kid_rule:
                out.evidence["kinderen"] = {"text": kid_rule.group(0), "part": "body", "start": kid_rule.start(), "end": kid_rule.end()}
        out.consent = self._consent(body + ("\n" + signature if signature else ""))
        # fixed order, as in the labeling guide
        order = ("naam", "geboortedatum", "bsn", "telefoon", "email", "straat_huisnummer", "postcode", "woonplaats",
                 "aanmelder", "aanmelder_organisatie", "kinderen")
        out.fields = {k: out.fields[k] for k in order if k in out.fields}
        return out

    # --------------------------------------------------------------
    @staticmethod
    def _put(out: Extraction, key: str, value, span_text: str, part: str, start: int, end: int) -> None:
        if key not in out.fields and value:
            out.fields[key] = value
            out.evidence[key] = {"text": span_text, "part": part, "start": start, "end": end}

    def _contacts(self, doc: Doc, text: str, part: str, out: Extraction, own_numbers: set, own_emails: set) -> None:
        # `text` is doc.text: passed along because doc.text rebuilds the string token by token
        taken: list[tuple[int, int]] = []
        for label, s, e, raw in doc.user_data["contact"]:
            if label == "EMAIL":
                m = _EMAIL.search(raw)
                val = m.group(0).lower().rstrip(".") if m else None
                if val and val not in own_emails and not val.endswith(("@denhelder.nl",)):
                    self._put(out, "email", val, raw, part, s, e)
            elif label == "PHONE":
                m = _PHONE.search(raw)
                val = normalize_phone(m.group(0)) if m else None
                if val and val not in own_numbers:
                    self._put(out, "telefoon", val, m.group(0), part, s, e)
                    taken.append((s, e))
            elif label == "POSTCODE":
                m = _POSTCODE.search(raw)
                if not m:
                    continue
                digits, letters = m.group(1), m.group(2)
                lower_ctx = letters.islower() and letters.lower() in _STOP_POSTCODE_LETTERS
                if lower_ctx or letters.upper() in {"SA", "SD", "SS"}:
                    continue
                if letters.islower() and not re.search(r"(?:postcode|\d+\s*[a-z]?\s*,?)\s*$", text[max(0, s - 30): s], re.I) and not (1000 <= int(digits) <= 9999 and self._in_range(digits)):
                    continue
                if 1900 <= int(digits) <= 2100 and not letters.isupper():
                    continue
                self._put(out, "postcode", f"{digits} {letters.upper()}", raw, part, s, e)
            elif label == "BSN":
                digits = re.sub(r"\D", "", raw)
                if any(a <= s < b for a, b in taken):
                    continue
                if bsn_valid(digits):
                    self._put(out, "bsn", digits, raw, part, s, e)
            elif label == "DATE":
                before = text[max(0, s - 30): s]
                val = parse_date(raw)
                if not val:
                    continue
                cue = _BIRTH_CUE.search(before)
                year = int(val[:4])
                if cue or (year <= date.today().year - 12 and not re.search(r"(?:sinds|vanaf|per|op|tot|d\.d\.|datum)\s*$", before, re.I)):
                    self._put(out, "geboortedatum", val, raw, part, s, e)
            elif label == "STREET":
                m = _STREET.search(raw)
                if m:
                    street = m.group(1).split("\n")[-1].strip()
                    first = street.split()[0] if street.split() else ""
                    if first in {"Mijn", "Ik", "Wij", "We", "Het", "Op", "In", "Aan", "Naar", "Wonend", "Adres", "Woont", "Woonachtig", "Uit", "My", "The", "At"}:
                        street = " ".join(street.split()[1:])
                    if street and street[0].isupper():
                        value = f"{street} {m.group(2)}".strip()
                        self._put(out, "straat_huisnummer", value, value, part, s, e)

    def _in_range(self, digits: str) -> bool:
        lo, hi = self.m.postcode_range
        return lo <= int(digits) <= hi

    def _places(self, doc: Doc, text: str, part: str, out: Extraction) -> None:
        for ent in doc.ents:
            if ent.label_ != "GPE" or "woonplaats" in out.fields:
                continue
            before = text[max(0, ent.start_char - 40): ent.start_char].lower()
            after = text[ent.end_char: ent.end_char + 3]
            is_city = ent.text.lower() == "den helder"
            address_ctx = re.search(r"\d{4}\s?[a-z]{2}\s*,?\s*$", before, re.I) or re.search(r"\d+\s*[a-z]?\s*,\s*$", before)
            living_ctx = re.search(r"(?:woon\w*|wonend|woonachtig|wonen|live|living|woont|wij\s+wonen|uit|te|in)\s+(?:\w+\s+){0,2}$", before)
            org_ctx = re.search(r"(?:gemeente|wijkteam|sociaal\s+wijkteam|kcc|marine|politie|station|ziekenhuis)\s*$", before)
            if org_ctx:
                continue
            if address_ctx or (living_ctx and not is_city) or (is_city and re.search(r"(?:woon\w*|wonend|woonachtig|wonen|live|living|woont)\s+(?:\w+\s+){0,2}$", before)) or (not is_city and part == "signature") or (not is_city and not after.startswith(" ")):
                self._put(out, "woonplaats", ent.text if ent.text[0].isupper() else ent.text.title(), ent.text, part, ent.start_char, ent.end_char)

    def _name_from_matcher(self, doc: Doc, text: str, part: str, out: Extraction, partner: bool,
                           naaste: bool = False) -> None:
        for _, start, end in sorted(self.matcher(doc), key=lambda t: t[1]):
            trigger = doc[start:end]
            after = text[trigger.end_char:]
            m = _NAME.match(after.lstrip(" .:"))
            if not m:
                continue
            offset = trigger.end_char + (len(after) - len(after.lstrip(" .:")))
            name = m.group(0).strip()
            name = re.sub(r"\s+(?:Mijn|Ik|Wij|Ze|Hij|Zij|En|Heeft|Belt|Is|Woont|I|My|And)\b.*$", "", name).strip()
            if not name or name in _NOT_NAMES or len(name) < 2:
                continue
            # a title word followed by a name starting with a lowercase prefix ("Mw. de Vries")
            low_prefix = re.match(rf"((?:{_PREFIXES})\s+(?:{_PREFIXES}\s+)?{_NAME_WORD})", after.lstrip(" .:"))
            if low_prefix and trigger.text.lower().split(".")[0] in {"mw", "mevr", "mevrouw", "dhr", "meneer", "heer", "mr", "mrs", "ms", "mej", "mvr"}:
                name = low_prefix.group(1)
            ctx_before = text[max(0, trigger.start_char - 40): trigger.start_char].lower()
            ctx_after = text[offset + len(name): offset + len(name) + 30].lower()
            if naaste and (re.match(r"\W*(?:belt|belde|mailt|schrijft)\s+(?:\w+\s+)?(?:namens|voor|over|ivm\s+(?:haar|zijn)|i\.?v\.?m\.?\s+(?:haar|zijn))", ctx_after)
                           or re.match(r"\W*\(?(?:broer|zus|dochter|zoon|buurvrouw|buurman|moeder|vader|partner)\s+van", ctx_after)
                           or re.search(r"beller\s*:?\s*$", ctx_before) or re.search(r"\((?:dochter|zoon|mw|dhr)\.?\s*$", ctx_before)):
                continue
            if re.search(r"(?:^|\n|\b)(?:dag|beste|geachte|hallo|hoi|dear|hi|hello|bedank\w*|thank|goede(?:morgen|middag|navond)|goedendag)\s*$", ctx_before) or \
                    re.match(r"\s*(?:van|from|of)\s+(?:het|de|jullie|the|your)\s", ctx_after) or re.match(r"\s*(?:van|from)\s+(?:het\s+)?(?:wijkteam|kcc|gemeente)", ctx_after):
                continue
            if partner and re.search(r"(?:groet|namens|collega|ik\s+ben)\W*$", ctx_before):
                continue
            if trigger.text.lower() in {"ik ben", "ik heet"} and not re.match(rf"(?:{_PREFIXES}\s+)?[A-Z]", after.lstrip()):
                continue
            self._put(out, "naam", name, name, part, offset, offset + len(name))
            return
        # "mijn moeder, Ria Bos (81)": an adult relative is the person the question is about
        for m in _RELATIVE_NAME.finditer(text):
            rel, name, age = m.group(1).lower(), m.group(2), m.group(3)
            if rel in ("zoon", "dochter", "son", "daughter") and not (age and int(age) >= 18):
                continue
            if name in _NOT_NAMES:
                continue
            self._put(out, "naam", name, name, part, m.start(2), m.end(2))
            return
        # "Jan de Vries belt" / "Vader belt (Hamid El Amrani)"
        m = re.search(rf"\(({_NAME.pattern})\)", text)
        if m and m.group(1) not in _NOT_NAMES and not re.fullmatch(r"[A-Z][a-z]+", m.group(1)):
            self._put(out, "naam", m.group(1), m.group(1), part, m.start(1), m.end(1))

    def _name_from_signature(self, signature: str, out: Extraction) -> None:
        lines = [l.strip() for l in signature.split("\n") if l.strip()]
        if not lines:
            return
        first = _SIGNOFF_LINE.sub("", lines[0]).strip(" ,.")
        first = re.sub(r"^van\s+", "", first)
        candidates = ([first] if first else []) + lines[1:3]
        for cand in candidates:
            cand = re.split(r"[,(]", cand)[0].strip()
            cand = re.sub(rf"^{_TITLES}\.?\s+", "", cand, flags=re.I).strip(" ,.")
            m = _NAME.fullmatch(cand) or re.fullmatch(rf"(?:{_PREFIXES}\s+)?{_NAME_WORD}(?:\s+(?:{_PREFIXES}\s+)*{_NAME_WORD}){{0,3}}", cand)
            if m and cand not in _NOT_NAMES and not re.search(r"\d|@", cand):
                self._put(out, "naam", cand, cand, "signature", 0, len(cand))
                return

    def _organisation(self, norm: Normalized, docs: dict[str, Doc]) -> tuple[str, dict] | None:
        for part, text in (("signature", norm.signature), ("body", norm.body), ("subject", norm.subject)):
            if not text:
                continue
            doc = docs.get(part) or self.nlp(text)
            orgs = [e for e in doc.ents if e.label_ == "ORG"]
            if orgs:
                e = orgs[0]
                return e.text, {"text": e.text, "part": part, "start": e.start_char, "end": e.end_char}
            m = re.search(r"(?:namens|vanuit|werkzaam\s+(?:bij|op)|ik\s+werk\s+(?:bij|op)|from)\s+(?:de\s+|het\s+)?([A-Z][\w&'\-]*(?:\s+[A-Z][\w&'\-]*){0,3})", text)
            if m:
                return m.group(1), {"text": m.group(1), "part": part, "start": m.start(1), "end": m.end(1)}
        return None

    @staticmethod
    def _consent(text: str) -> str:
        no = _CONSENT_NO.search(text)
        yes = _CONSENT_YES.search(text)
        if no and (not yes or no.start() <= yes.start() or "niet" in text[max(0, yes.start() - 15): yes.start()].lower()):
            return "nee"
        if yes:
            before = text[max(0, yes.start() - 25): yes.start()].lower()
            sent_end = re.search(r"[.!?\n]", text[yes.end():])
            ends_with_question = bool(sent_end) and sent_end.group(0) == "?"
            sent_start = max(text.rfind(c, 0, yes.start()) for c in ".!?\n")
            asks = re.search(r"\b(?:moet|moeten|moet\s+ik|hoe|waar|wanneer|of)\b", text[sent_start + 1: yes.start()].lower())
            if re.search(r"\b(?:niet|geen|nog\s+niet|not)\b", before) or ends_with_question or (asks and "?" in text[yes.end(): yes.end() + 80]):
                return "onbekend"
            return "ja"
        return "onbekend"
