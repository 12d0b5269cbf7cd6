"""Startformulier extraction on spaCy ``blank("nl")``.

Pipeline: the Dutch tokenizer, an EntityRuler for organisations and places
from configuration, and a ``contact_finder`` component that marks e-mail
addresses (also written as "naam (at) domein (punt) nl"), phone numbers in
all their Dutch written forms, postcodes, BSNs, dates and street addresses.
Validators normalize each value (phone to 06..., postcode to "1781 AB", the
BSN 11-test, dates to ISO). Names come from labels ("Naam:", "Gegevens:"),
self-introductions, titles ("Mw. de Vries"), a name with an age or contact
details ("Kevin de Wit (24)"), relatives ("mijn moeder, Ria Bos (81)") and
the closing block of a mail; the fullest written form of the chosen person
wins. The partner's organisation is read from the closing block or from
"namens / vanuit ...". Every value carries its evidence: the words it came
from and their place in the message. Extracted values are never logged.

Whose details (labeling guide): the fields describe the person the question
is about. A partner's own signature, name and numbers are never the
resident's; a relative or neighbour (``naaste``) who writes about an adult
gives that adult's details, so the writer's own number, address and
signature are skipped unless the text ties them to the resident ("haar
nummer is ..."). Numbers of the municipality and national services are
skipped. Consent is read only from words, never inferred.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import spacy
from spacy.lang.en.stop_words import STOP_WORDS as _EN_STOP
from spacy.lang.nl.stop_words import STOP_WORDS as _NL_STOP
from spacy.language import Language
from spacy.tokens import Doc

from .config import Municipality
from .normalize import Normalized

__all__ = ["Extractor", "Extraction", "bsn_valid", "normalize_phone", "parse_date", "read_consent"]


# ----------------------------------------------------------- validators
def bsn_valid(digits: str) -> bool:
    """The BSN 11-test (elfproef)."""
    if not re.fullmatch(r"\d{9}", digits) or digits == "000000000":
        return False
    total = sum(int(digits[i]) * (9 - i) for i in range(8)) - int(digits[8])
    return total % 11 == 0


# Not a resident's number: free and paid service numbers and the national
# business prefix 088.
_SERVICE_PREFIXES = ("0800", "0900", "0906", "0909", "088")


def normalize_phone(raw: str) -> str | None:
    """'+31 (0)6-12 34 56 78' -> '0612345678'; None when it is no Dutch number."""
    s = raw.strip()
    s = re.sub(r"\(\s*0\s*\)", "", s)
    digits = re.sub(r"\D", "", s)
    if s.startswith("+31") or (s.startswith("+") and digits.startswith("31")) or digits.startswith("0031"):
        digits = digits[2:] if s.startswith("+") else digits[4:]
        digits = "0" + digits.lstrip("0")
    if len(digits) != 10 or not digits.startswith("0") or digits.startswith("00"):
        return None
    if digits.startswith(_SERVICE_PREFIXES):
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
# Obfuscated addresses ("naam (at) domein (punt) nl", "naam at domein punt nl"):
# only when the @ is written as a word and the domain ends in a written dot
# plus a top-level domain, so ordinary English "at" never matches.
_EMAIL_OBF = re.compile(
    r"(?<![\w.@])([a-z0-9][\w.+\-]*)\s*(?:\(at\)|\[at\]|\{at\}|\s(?:at|apenstaartje)\s)\s*"
    r"([a-z0-9][\w\-]*(?:(?:\s*(?:\(punt\)|\[punt\]|\(dot\)|\[dot\]|\spunt\s|\sdot\s)\s*|\.)[a-z0-9][\w\-]*)*)"
    r"(?:\s*(?:\(punt\)|\[punt\]|\(dot\)|\[dot\]|\spunt\s|\sdot\s)\s*|\.)(nl|com|net|org|be|eu|info|de|uk|co\.uk)\b",
    re.I,
)
# Dutch phone numbers in all their written forms: 06-12345678, 06 12 34 56 78,
# 0223-612345, (0223) 61 23 45, 0223 - 61 23 45, +31 6 1234 5678,
# +31 (0)6-12 34 56 78, 0031 6 ...: a prefix and nine more digits with at most
# one separator (space, dash, dot, slash, bracket) between two digits. No
# separator crosses a line.
_PHONE = re.compile(
    r"(?<![\w+/.,\-])(?:(?:\+|00)[ \t]*31[ \t]*(?:\([ \t]*0[ \t]*\)[ \t]*)?[\-.]?[ \t]*|\(?0)"
    r"(?:\d(?:[ \t]*[\-./][ \t]*|[ \t]{1,2}|\)[ \t]*)?){8}\d(?!\d)"
)
_POSTCODE = re.compile(r"\b([1-9]\d{3})\s?([A-Za-z]{2})\b")
# nine digits, optionally grouped with spaces, dots or dashes (123 456 789,
# 1234.56.789, 12-34-56-789); the 11-test decides
_BSN = re.compile(r"(?<![\d.\-/])\d(?:[ .\-]?\d){8}(?![\d]|[ .\-/]\d)")
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
# house number: no leading zero, an optional letter or addition (12A, 12 a,
# 12-II, 88-2, 12hs, 12 bis) on the same line
_HOUSE_NO = r"[1-9]\d{0,3}(?:[ \t]?-?[ \t]?(?:I{1,3}|IV|hs|bis|hoog|zw|rd)\b|-\d{1,3}\b|-[A-Za-z]{1,2}\b|[a-zA-Z]\b(?![.'’]\w)|[ \t][A-Z]\b(?![.'’]\w))?(?![ \t]*[\-.]?[ \t]*\d|[,.]\d|\s*(?:jaar|jr|uur|euro|%|min|kg|km|m2|keer|weken|dagen|maanden|x\b))"
_STREET_WORD = r"[A-Z][\w'.\-]*"
_STREET_PARTICLE = r"(?:in|'t|de|der|den|van|het|ter|ten|te|op|aan|la|le)"
_STREET = re.compile(
    rf"\b((?:{_STREET_WORD}[ \t]+(?:{_STREET_PARTICLE}[ \t]+)*){{0,3}}[A-Z][\w'\-]*(?:{_STREET_SUFFIX})|"
    rf"(?:{_STREET_WORD}[ \t]+){{0,2}}(?:[Vv]an|[Dd]e|[Dd]en|[Dd]er|[Tt]er)[ \t]+[\w'\-]+(?:{_STREET_SUFFIX}))"
    rf"[ \t]+({_HOUSE_NO})",
)
# a street name without a street suffix (Kruiszwin 12, De Riepel 3, Midden
# 112) only where the context says it is an address
_STREET_NAME_ANY = rf"((?:{_STREET_WORD}[ \t]+(?:{_STREET_PARTICLE}[ \t]+)*){{0,3}}[A-Z][\w'\-]+)[ \t]+({_HOUSE_NO})"
_STREET_CTX_BEFORE = re.compile(
    r"(?:\b(?:aan|op)\s+de|\bwoon\w*\s+(?:aan|op)(?:\s+de)?|\badres\s*(?:is|:)?|\bwonende\s+(?:aan\s+)?(?:de\s+)?|"
    r"\bhuurder\s+van|\bwoning\s+(?:aan|op)(?:\s+de)?|\bontruiming\s+van|\bin\s+de\s+woning\s+aan\s+de|"
    r"\blives?\s+(?:alone\s+)?at|\bliving\s+at|\baddress\s*(?:is|:)?|\(|\)\s*,|\b[A-Z][\w'\-]+\s*,|\b\d{1,3}\s*(?:jaar)?\s*,)\s*$",
    re.I,
)
_STREET_CTX_AFTER = re.compile(r"^\s*(?:[,|\n]|$|\)|\s+(?:in|te)\s+[A-Z])", re.M)
_NOT_STREETS = {"Den Helder", "Julianadorp", "Huisduinen", "De Kooy", "Nieuw Den Helder", "Mijn", "Ik", "Wij", "We", "Het", "Op",
                "In", "Aan", "Naar", "Wonend", "Adres", "Woont", "Woonachtig", "Uit", "My", "The", "At", "Groep", "Klas", "Postbus",
                "Bus", "Lijn", "Kamer", "Artikel", "Hoofdstuk", "Bijlage", "Nummer", "Huisnummer", "Tel", "Telefoon", "BSN",
                "Week", "Dag", "Jaar", "Niveau", "Fase", "Stap", "Route", "Pagina", "Versie", "Zaak", "Dossier", "Ticket"}
_STOP_POSTCODE_LETTERS = {
    "en", "de", "op", "in", "is", "om", "te", "ik", "al", "er", "ja", "na", "of", "nu", "zo", "we", "je", "ze", "me",
    "to", "at", "on", "an", "as", "be", "by", "he", "it", "my", "no", "or", "so", "up", "us", "km", "uu", "cm", "kg",
    "pm", "am", "jr", "eu", "mg", "ml", "sa", "sd", "ss", "maal", "ct", "nr", "st",
}
_PREFIXES = r"(?:van|de|der|den|ter|ten|te|het|el|al|ben|da|dos|du|la|le|von|bin|ibn|abu|mc|o'|in\s+'t|v\.d\.|v/d)"
_NAME_WORD = r"[A-ZÀ-ÞĀ-Ž](?:[^\W\d_]|['’](?=[^\W\d_]))*[a-zà-ÿā-ž](?:-[^\W\d_]+)*"
_NICK = r"(?:[ \t]+\([A-ZÀ-Þ][^\W\d_]+\)(?=[ \t]+[A-ZÀ-Þ]))?"
_NAME = re.compile(
    rf"(?<![\w'’.\-])(?:(?:[A-Z]\.[ \t]?){{1,4}}[ \t]*)?(?:{_PREFIXES}[ \t]+){{0,3}}{_NAME_WORD}{_NICK}"
    rf"(?:[ \t]+(?:(?:{_PREFIXES}[ \t]+){{0,3}}{_NAME_WORD}|[A-Z]\.)){{0,3}}(?:[ \t]+jr\.?)?",
)
# "Esther en Bas van der Meulen", "M. en J. Koning", "Tim Hogenboom & Sanne Faber"
_COUPLE = re.compile(
    rf"(?:(?:[A-Z]\.[ \t]?){{1,4}}|{_NAME_WORD}(?:[ \t]+(?:{_PREFIXES}[ \t]+){{0,3}}{_NAME_WORD})?)[ \t]+(?:en|&|and)[ \t]+{_NAME.pattern}"
)
_TITLES = r"(?:mw|mevr|mevrouw|dhr|de\s+heer|meneer|heer|mr|mrs|ms|miss|mej|mvr|drs|dr|ir|ing|prof)"
_TITLE_STRIP = re.compile(rf"^(?:{_TITLES}\.?\s+)+", re.I)
_NOT_NAMES = {
    "Den Helder", "Julianadorp", "Huisduinen", "Sociaal Wijkteam", "Wijkteam", "Gemeente", "KCC", "Hallo", "Beste",
    "Geachte", "Hoi", "Hey", "Dear", "Hello", "Hi", "Met", "Groet", "Groeten", "Mvg", "Dank", "Bedankt", "Thanks",
    "Regards", "Kind", "Best", "Verzonden", "Sent", "Tel", "Telefoon", "Mobiel", "Adres", "Email", "E-mail", "Mail",
    "Bericht", "Vraag", "Zorgloket", "Veilig Thuis", "De Wering", "Parlan", "Omring", "Vrijwaard", "MEE", "Woontij",
}
# Capitalised words that start a sentence in notes and mail but are no name.
_NOT_NAME_WORDS = {w.lower() for w in (
    "geen geadviseerd gewezen zegt heeft is wil woont belt belde vraagt doorverb doorverbonden verwezen uitgelegd advies naam "
    "adres tel telefoon mobiel geb geboren bsn akkoord toestemming bureaudienst bureaud dochter zoon moeder vader man vrouw "
    "buurvrouw buurman echtgenoot echtgenote ex partner kinderen kind opa oma familie fam gezin hulp situatie aanleiding "
    "hulpvraag reden gegevens contact bereikbaar overig opmerking actie let zie graag alvast groet groeten groetjes gr vandaag "
    "gisteren morgen vannacht vanochtend vanmiddag vanavond maandag dinsdag woensdag donderdag vrijdag zaterdag zondag januari "
    "februari maart april mei juni juli augustus september oktober november december please thanks thank dear hello hi "
    "regards kind best sorry ok oke oké ja nee doorgezet doorgestuurd ingelicht politie gemeente wijkteam zorgloket helaas "
    "verder daarnaast tevens terugbellen terugbelverzoek tb geadviseerd verwijzing melding melder beller inwoner cliënt "
    "client klant patiënt patient bewoner huurder leerling student jongere jongen meisje baby broer zus neef nicht tante oom "
    "vriend vriendin collega huisarts school schuldhulp ggz wmo uwv svb cak bijstand uitkering toeslagen huur energie "
    "goedemorgen goedemiddag goedenavond goedendag hallo beste geachte hoi hey lieve waarde mevrouw meneer heer dhr mw mevr "
    "ik mijn wij we ons onze hij zij ze haar zijn hun het de een dit dat die deze er hier daar nu toen sinds vanaf volgens "
    "met van voor na om op in aan bij uit over niet nog wel maar en of want dus als omdat toch al alle alles iemand niemand "
    "niks niets veel weinig erg heel zeer ook mr mrs ms miss sir madam the she he they it my her his our your i "
    "kinderbescherming jeugdzorg thuiszorg wijkverpleging praktijk huisartsenpraktijk consultatiebureau kinderopvang "
    "stichting team afdeling bureau centrum tuindorp schooten visbuurt binnenstad centrum zuid noord oost west "
    "roemeens pools syrisch turks marokkaans surinaams nederlands engels duits eritrees oekraïens bulgaars somalisch "
    "bang moe ziek zwanger blij boos alleen bezorgd wanhopig radeloos op klaar thuis hier weduwe weduwnaar gescheiden "
    "alleenstaand mantelzorger statushouder vluchteling werkloos dakloos verslaafd vorige volgende afgelopen jongeman kleinzoon "
    "kleindochter oudere jonge kleinkind stiefvader stiefmoeder pleegouders ouders echtpaar buren buurt wijkagent woonconsulent "
    "afghaans iraaks iraans litouws lets ests hongaars portugees spaans italiaans frans chinees indiaas pakistaans braziliaans "
    "russisch lithuanian latvian polish romanian bulgarian ukrainian syrian eritrean dutch english german turkish moroccan "
    "british irish scottish american african somali afghan iraqi iranian portuguese spanish italian french chinese indian "
    "schagen alkmaar texel amsterdam hoorn zwolle groningen utrecht oekraïne syrië polen turkije marokko"
).split()} | ({w.lower() for w in _NL_STOP} | {w.lower() for w in _EN_STOP}) - {"ben", "wil", "will", "may"}  # first names too
_SIGNOFF_WORDS = (
    r"(?:met\s+)?(?:vriendelijke|hartelijke|collegiale|sportieve|lieve|warme|beste)\s+groet(?:en)?|met\s+(?:vr\.?|vriendelijke)\s*(?:gr\.?|groet(?:en)?)|"
    r"vr\.?\s*gr\.?|mvg|m\.v\.g\.?|groet(?:en|jes)?(?:\s+van)?|gr\.?|grt|greetz|hoogachtend|liefs|doei|"
    r"(?:alvast\s+)?bedankt|(?:alvast\s+)?dank(?:\s*(?:je|u))?(?:\s*wel)?|bij\s+voorbaat\s+dank|"
    r"thank\s+you|thanks(?:\s+in\s+advance)?|many\s+thanks|(?:with\s+)?(?:kind|best|warm|sincere)\s+regards|regards|"
    r"best\s+wishes|cheers|(?:yours\s+)?sincerely|yours\s+faithfully|i\s+remain,?\s+yours\s+faithfully|"
    r"with\s+sincere\s+thanks(?:\s+and\s+respect)?"
)
_SIGNOFF_LINE = re.compile(rf"^\s*(?:{_SIGNOFF_WORDS})(?![\w])(?:\s*/\s*(?:{_SIGNOFF_WORDS})(?![\w]))?[\s,.!]*", re.I)
_CONTACT_LINE = re.compile(
    r"^(?:(?:tel|telefoon|mob|mobiel|e-?mail|adres|phone|geb|geboren|bsn|born)\b.*|[tm]\s*[:.]?\s*[+\d(].*|[+(].*|.*\d{2}.*|\S+@\S+|.*\b\d{4}\s?[A-Z]{2}\b.*)$",
    re.I,
)
_RELATIVE_WORDS = (
    r"moeder|vader|broer|zus|zoon|dochter|oma|opa|buurvrouw|buurman|vriend|vriendin|beste\s+vriendin|beste\s+vriend|"
    r"schoonmoeder|schoonvader|tante|oom|neef|nicht|kleinzoon|kleindochter|man|vrouw|echtgeno(?:o|t)e|partner|ouders|"
    r"mother|father|brother|sister|son|daughter|neighbour|neighbor|grandmother|grandfather|mum|mom|dad|husband|wife|friend|"
    r"nephew|niece|uncle|aunt|grandson|granddaughter|cousin"
)
_CHILD_WORDS = {"zoon", "dochter", "son", "daughter", "kleinzoon", "kleindochter", "grandson", "granddaughter", "nephew", "niece", "neef", "nicht"}
_RELATIVE_NAME = re.compile(
    rf"(?i:\b(?:mijn|m'n|mn|onze|ons|my|our|zijn|haar|his|her|over|ivm|i\.v\.m\.|namens|voor)\s+(?:\w+\s+)?)(?i:({_RELATIVE_WORDS}))\s*,?\s+"
    rf"(?!(?i:is|en|die|heeft|was|woont|had|van|in|op)\b)({_NAME.pattern})(?:\s*,?\s*\(?\s*(?:is\s+|van\s+|age\s+|aged\s+)?(\d{{1,3}})\b)?"
)
_AGE_AFTER = re.compile(r"^\s*(?:\(\s*(?:ca\.?|±|ong\.?|rond\s+de\s+)?\s*(\d{1,3})\b|,\s*(?:ca\.?\s*)?(\d{1,3})\s*(?:jaar|jr|j\.)?\s*[,.)(]|\(\s*(?:geb|born|\d{1,2}[-/]\d))", re.I)
_DETAILS_AFTER = re.compile(
    r"^[ \t]*(?:,|\n|\|)[ \t]*(?:(?i:geb\w*|geboren|born|bsn|tel\w*|bereikbaar|te\s+bereiken|reachable|phone|mobiel)\b|(?:\+31|0)[\d \t\-()]{8,}|[A-Z][\w'\-]+(?:[ \t]+[\w'\-]+){0,3}[ \t]+[1-9]\d{0,3}[a-zA-Z]?\b|"
    r"[\w.+\-]+@)")
_PERSON_NOUN_APPOS = re.compile(
    rf"(?i:\b(?:een\s+)?(?:jonge\s+)?(?:jongeman|jongen|man|vrouw|meisje|moeder|vader|student|studente|leerling|speler|cli[eë]nt|client|"
    rf"pati[eë]nt|bewoner|huurder|mevrouw|meneer|dame|heer|vrijwilliger|teamgenoot(?:je)?|jongere)(?:\s+van\s+(?:ca\.?\s*)?\d{{1,3}}(?:\s*(?:jaar|jr))?)?"
    rf"(?:\s+\(\d{{1,3}}\))?\s*,\s*|\b(?:belde|belt|bt)\s*(?:zelf\s*)?,\s*|\bgaat\s+(?:het\s+)?om\s+|\bnoemt\s+zich\s+|\bken\s+(?:haar|hem)\s+als\s+)"
    rf"['‘]?({_NAME.pattern})"
)
_LABEL_NAME = re.compile(
    rf"(?i:(?:^|(?<=[\s(|>]))(?:(?:volledige\s+)?naam(?:\s+[\w.]{{1,12}}){{0,3}}|"
    rf"cli[eë]nt(?:e)?|client|betreft|inwoner|jongere|patient|pati[eë]nt|name|full\s+name|"
    rf"gegevens(?:\s+(?:moeder|vader|cli[eë]nt|client|mevrouw|meneer|dhr|mw))?|contact(?:persoon)?(?:\s+[^:\n]{{1,50}}?)?|"
    rf"moeder|vader|zoon|dochter)\s*:\s*(?:(?:moeder|vader|mevrouw|meneer|mw\.?|dhr\.?|mr\.?|mrs\.?|ms\.?|de\s+heer)\s*,?\s*)?)"
    rf"({_NAME.pattern})"
)
_LABEL_NAME_NOCOLON = re.compile(rf"(?i:\bnaam)\s+((?:{_TITLES}\.?\s+)?{_NAME.pattern})(?=\s*[,.(]|\s*$)", re.M)
_IS_NAME = re.compile(
    rf"(?i:\b(?:(?:mijn|zijn|haar|his|her|my|their)\s+(?:voor|achter|first\s+|full\s+)?(?:naam|name)(?:\s+(?:is|=))?\s*,?|(?:ik|hij|zij|ze|he|she)\s+heet|"
    rf"(?:vader|moeder|zoon|dochter|broer|zus)\s+heet|(?:i\s+am|i'm|ik\s+ben|this\s+is|hier\s+is|het\s+gaat\s+om))\s*:?\s+"
    rf"(?:{_TITLES}\.?\s+)?)({_NAME.pattern}|(?:{_PREFIXES}\s+){{1,3}}{_NAME_WORD})"
)
_TITLE_NAME = re.compile(
    rf"(?i:(?<![\w])(?:mw|mevr|mevrouw|dhr|de[ \t]+heer|meneer|heer|mr|mrs|ms|miss|mej|mvr|mister|madam)\.?)(?:[ \t]+|[ \t]*\([ \t]*(?=[A-Z][^)]{{2,40}}\)))"
    rf"((?:(?:[A-Z]\.[ \t]?){{1,4}}[ \t]*)?(?:{_PREFIXES}[ \t]+){{0,3}}{_NAME_WORD}{_NICK}(?:[ \t]+(?:(?:{_PREFIXES}[ \t]+){{0,3}}{_NAME_WORD})){{0,2}}(?:[ \t]+jr\.?)?"
    rf"|(?i:{_PREFIXES})(?:[ \t]+{_PREFIXES}){{0,2}}[ \t]+{_NAME_WORD})"
)
_CALLER_VERB = re.compile(r"^\W*(?:\)\s*)?(?:belt|bt|belde|bellen|mailt|schrijft|meldt|vraagt\s+namens|namens)\b", re.I)

_KIDS_RULE = re.compile(
    r"\b(?:(?:mijn|onze|m'n|mn|haar|zijn|hun|de|2|twee|drie|3|4|vier)\s+(?:\w+\s+)?(?:kinderen|kids|kindjes|kleintjes)|(?:mijn|onze|m'n|mn|haar|zijn)\s+(?:zoon|dochter|zoontje|dochtertje|baby|pleegkind)\s+(?:\w+\s+)?(?:van\s+)?\(?(?:1[0-7]|[1-9])\)?(?:\s*(?:jaar|jr|maanden|mnd))?\b|"
    r"(?:zoon|dochter|zoontje|dochtertje)\s*\(\s*(?:1[0-7]|[1-9])\s*\)|(?:my|our)\s+(?:\w+\s+)?(?:children|kids|son|daughter|baby)\b)",
    re.I,
)
_ADULT_CHILD = re.compile(r"(?:zoon|dochter|kinderen|son|daughter)\s+(?:\w+\s+)?(?:van\s+)?\(?(?:1[89]|[2-9]\d)\)?|volwassen", re.I)

# ------------------------------------------------------ phone ownership
# Whose number is it? Words right before the number decide; without such
# words the writer's own number counts for a resident writing about
# themselves (inwoner) and a number in a partner's text for the resident.
_ROLE = (r"moeder|vader|mdr|vdr|ouders?|dochter|zoon|broer|zus|zuster|oma|opa|oom|tante|neef|nicht|kleinzoon|kleindochter|"
         r"buurvrouw|buurman|buurvr|buren|vriendin|vriend|partner|man|vrouw|echtgeno(?:o|t)e|ex|schoonmoeder|schoonvader|schoonzus|"
         r"mother|father|mum|mom|dad|daughter|son|brother|sister|neighbour|neighbor|friend|husband|wife|parents?")
_PERSON_TITLE = r"mw|mevr|mevrouw|dhr|meneer|de\s+heer|cli[eë]nt(?:e)?|client|pt|pati[eë]nt|klant|jongere|bewoner|huurder|mr|mrs|ms"
_PH_SELF = re.compile(
    r"\b(?:mijn|my|m'n|mn)\s+(?:\w+\s+)?(?:nummer|number|telefoon\w*|mobiel\w*|mobile|gsm|tel\.?|nr\.?|e-?mail\w*|mail\w*)\b|"
    r"\b(?:mail|e-?mail)\s+(?:mij|me)\b|"
    r"\b(?:bel|call|contact|sms|app|text|bereik)\s+(?:mij|me)\b|\b(?:mij|me)\s+(?:\w+\s+){0,2}(?:bellen|bereiken|reach|call|terugbellen)\b|"
    r"\bik\s+ben\s+(?:\w+\s+){0,5}bereikbaar|\bi\s+(?:am|can\s+be)\s+(?:\w+\s+)?(?:reached|reachable)|\bzelf\s+bereikbaar|\bcontact\s+me\b",
    re.I,
)
_PH_RESIDENT = re.compile(
    r"\b(?:haar|zijn|hun|his|her|their)\s+(?:\w+\s+){0,2}(?:nummer|number|telefoon\w*|phone|mobiel\w*|mobile|gsm|werktelefoon|tel\.?)\b|"
    r"\b(?:haar|zijn|hun|his|her|their)\s+(?:\w+\s+)?(?:adres|address|gegevens|details|e-?mail\w*|mail\w*)\b|"
    r"\b(?:hem|haar|hen|him|her|them)\s+(?:\w+\s+){0,4}(?:bellen|bereiken|call|reach|phone|contact\w*)\b|"
    r"\bcontact\s+(?:\w+\s+){0,2}met\s+(?:hem|haar|hen)\b|"
    r"\b(?:hij|zij|ze|he|she|they)\b[^.\n]{0,40}\b(?:bereikbaar|bereiken|reached|reachable)\b|"
    r"\b[A-Z][\w'\-]+['’]s\s+(?:nummer|number|phone)",
    re.I,
)
_PH_TITLE = re.compile(
    rf"\b({_PERSON_TITLE})\.?\s*(?:\w+\s+)?(?:tel\.?|telefoon|nummer|mobiel)?\s*:?\s*$|"
    rf"\b(?:nummer|tel\.?|telefoon\w*|mobiel|nr\.?|phone|tb|terugbelnummer)\s+(?:van\s+)?({_PERSON_TITLE})\b\.?\s*:?\s*$|"
    rf"\b({_PERSON_TITLE})\.?\s+(?:is\s+)?(?:\w+\s+){{0,2}}(?:bereikbaar|te\s+bereiken)\b",
    re.I,
)
_TITLE_NORM = {"mevrouw": "mw", "mevr": "mw", "meneer": "dhr", "de heer": "dhr"}
_PH_CALLBACK = re.compile(r"\b(?:tb|t\.b\.|terugbel\w*|callback|call\s*back)\b", re.I)
_PH_ROLE_LABEL = re.compile(
    rf"\b(?:tel\.?|telefoon(?:nummer)?|nummer|nr\.?|mobiel|gsm|contact|bereikbaar|phone|number|te\s+bereiken)\s*(?:\w+\s+)?(?:van\s+|via\s+|op\s+)?(?:de\s+|het\s+|zijn\s+|haar\s+|his\s+|her\s+)?({_ROLE})\b|"
    rf"\b({_ROLE})\s*(?:\([^)]{{0,20}}\)\s*)?(?:tel\.?|telefoon|nummer|mobiel|thuis)?\s*(?:op)?\s*:?\s*$|"
    rf"\bvia\s+(?:zijn\s+|haar\s+|de\s+|hun\s+|his\s+|her\s+)?({_ROLE})\b",
    re.I,
)
# a number of a professional or an office: never the resident's
_PH_OTHER_LABEL = re.compile(
    r"\b(?:tel\.?|telefoon(?:nummer)?|nummer|nr\.?|mobiel|bereikbaar\s+via|via)\s*(?:\w+\s+)?(?:van\s+)?(?:de\s+|het\s+|mijn\s+|zijn\s+|haar\s+)?"
    r"(?:huisarts\w*|praktijk|school|kantoor|bewindvoerder|begeleider|hulpverlener|casemanager|wijkagent|politie|corporatie|verhuurder|"
    r"advocaat|centrale|receptie|balie|zorgverlener|psycholoog|psychiater|behandelaar|GP|doctor|lawyer)\b|"
    r"\b(?:fax|huisarts|school|bewindvoerder|begeleider|advocaat|centrale|receptie|GP|doctor)\s*:?\s*$",
    re.I,
)
_PARENT_ROLES = {"moeder", "vader", "ouder", "ouders", "mother", "father", "mum", "mom", "dad", "parent", "parents"}

_ORG_CTX = re.compile(r"(?:gemeente|wijkteam|sociaal\s+wijkteam|kcc|marine|politie|station|ziekenhuis|locatie|vestiging|regio|team|"
                      r"wijkagent|omgeving|buurt|richting|naar|vanaf|rond|bij\s+de|bij\s+het|strand\s+van|strand\s+bij|dijk\s+bij)\s*$", re.I)
_LIVING_CTX = re.compile(
    r"(?:\b(?:woon|woont|wonen|wonend|woonachtig|resides?|live[sd]?|living|gevestigd)\b(?:\s+[\w'()]+){0,6}?\s+(?:in|te|at)|"
    r"\b(?:huis|woning|huurwoning|koophuis|home)\s+(?:\w+\s+){0,2}(?:in|te)|\bwoonpl\w*\.?\s*:?|\b(?:plaats|city|town)\s*:|"
    r"\b(?:woon|woont|wonen|live|lives)\s+(?:\w+\s+){0,3}(?:in|te)\s+(?:\w+\s+){0,2}(?:in|te))\s*$",
    re.I,
)
_PAST_OR_NOT = re.compile(r"\b(?:woonde|woonden|lived|used\s+to|vroeger|voorheen|niet\s+meer|niet|no\s+longer|not|verhuizen|verhuist|moving|move)\b", re.I)

# ---------------------------------------------------------------- org
_ORG_ROLE_WORD = re.compile(
    r"^(?:\w*(?:coach|werker|medewerker|consulent|begeleider|verpleegkundige|adviseur|co[öo]rdinator|manager|leider|assistent|assistente|"
    r"trainer|agent|agente|ondersteuner|verzorgende|vrijwilliger|arts|huisarts|therapeut|fysiotherapeut|psycholoog|diaken|"
    r"ambtenaar|functionaris|regisseur|bewindvoerder|mentor|docent|leerkracht|directeur|bestuurslid|casemanager|beheerder|"
    r"opbouwwerker|jongerenwerker|poh|poh-ggz|poh-jeugd|wijkagent|caseworker|officer|director|volunteer|nurse))$",
    re.I,
)
_ORG_DEPT = re.compile(r"^(?:team|afdeling|unit|locatie|vestiging|dept|department|sector|cluster|regio|wijkteam)\b", re.I)
_ORG_INTRO = re.compile(
    r"(?:\bnamens|\bvanuit|\bwerkzaam\s+(?:bij|op)|\bik\s+werk\s+(?:bij|op|voor)|\bwerk\s+(?:bij|op|voor)|\bafzender\s*:|\bfrom|\bon\s+behalf\s+of|"
    r"\bik\s+ben\s+(?:\w+\s+){1,4}(?:bij|van|op)|\bwij\s+zijn|\bbij\s+ons\s+(?:in|op|bij)\s+(?:de\s+|het\s+)?)\s+"
    r"(?:(?:de|het|een)\s+)?(?:(?:[a-zà-ÿ][\w\-]*\s+){1,3}(?:van|bij)\s+(?:de\s+|het\s+)?)?"
    r"((?:[A-Z][\w&'/.\-]*|'t)(?:\s+(?:[A-Z][\w&'/.\-]*|de|der|des|van|voor|en|&|'t|aan|op|in))*(?:\s+[A-Z][\w&'/.\-]*)?)",
)


@dataclass
class _Ctx:
    """Per-message state of one extraction (the Extractor itself is shared
    between threads and keeps none)."""
    channel: str
    who: str
    body: str
    roles: tuple | None = None  # (caller roles, resident roles), worked out when needed
    minor_case: bool = False
    naam_evidence: tuple | None = None
    naam_tokens: set = field(default_factory=set)
    closing_start: int = 1 << 30  # partner: where the referrer's own sign-off starts in the body
    phones: list = field(default_factory=list)
    emails: list = field(default_factory=list)


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
        found = [(label, m.start(), m.end(), m.group(0)) for label, rx in self.KINDS for m in rx.finditer(text)]
        if "@" not in text and re.search(r"\(at\)|\[at\]|\sat\s|apenstaartje", text, re.I):
            found += [("EMAIL_OBF", m.start(), m.end(), m.group(0)) for m in _EMAIL_OBF.finditer(text)]
        doc.user_data["contact"] = found
        return doc


# ------------------------------------------------------------------ consent
# Consent is read from words only (labeling guide). A statement counts when
# it is about discussing the case in the wijkteam, an aanmelding or referral
# or sharing data with others; questions, hypotheticals ("als ik toestemming
# geef"), complaints about the past ("nooit toestemming gegeven") and
# explanations by the KCC ("uitgelegd: alleen met toestemming") are no
# statement. "Is op de hoogte" / "weet van deze melding" is no consent.
_SENT_SPLIT = re.compile(r"(?<=[.!?])[\"'’”)]*\s+(?=[A-Z0-9À-Þ'\"‘(>-])|(?<=[?!])[\"'’”)]*\s+|(?<=[a-zà-ÿ]{4}\.)\s+(?=[a-z])|\n+|\s/\s|;\s")
_CLAUSE_SPLIT = re.compile(r",?\s+(?:maar|but|however|echter)\s+|;\s+", re.I)
# What consent is about (labeling guide): discussing the case in the
# wijkteam, an aanmelding or referral, sharing data with others. Permission
# to contact or call the writer themselves is no consent.
_NOT_ME = r"(?!(?:mij|me|ons|us|hem|haar|hen|him|her|them|jou|you)\b)"
_CONSENT_SCOPE = re.compile(
    r"\bbespr\w*|overleg\w*|\bdel(?:en|t)\b|\bdeel\b|gedeeld|gegevens\w*|informatie\w*|\binfo\b|\bdoor(?:ge|te\s+ge)\w*|"
    r"doorverwijz\w*|verwijz\w*|aanmeld\w*|\baan\s+te\s+melden|melding\b|overdracht|dossier|verslag|benader\w*|"
    r"\binlicht\w*|ingelicht|betrekken|inschakel\w*|uitwissel\w*|"
    r"\b(?:in|binnen|met|bij|with|within|by)\s+(?:het\s+|de\s+|the\s+|your\s+|jullie\s+)?(?:wijk)?team\b|"
    rf"\bcontact\w*\s+(?:\w+\s+){{0,3}}?(?:met|with)\s+{_NOT_ME}|\b(?:praten|spreken)\s+met\s+{_NOT_ME}|"
    r"\bmet\s+(?:de|het|zijn|haar|mijn|hun)\s+[\w\-]+\s+(?:\w+\s+)?(?:praat|praten|spreekt|spreken|overlegt|overleggen|opneemt|opnemen|belt|bellen)\b|"
    rf"\b(?:talk\w*|speak\w*)\s+(?:to|with)\s+{_NOT_ME}|"
    r"(?:haar|zijn|hun|mijn|onze|her|his|their|my)\s+(?:naam|nummer|telefoonnummer|adres|situatie|verhaal|name|number|situation|story)|"
    r"\bshar\w*|discuss\w*|refer\w*|details|information|pass\s+on",
    re.I,
)
# a third party counts with a verb of contact: "U mag mijn psychiater bellen"
_CONSENT_THIRD = re.compile(
    r"huisarts|psychiater|psycholoog|behandelaar|school|\bjuf\b|mentor|leerkracht|werkgever|bewindvoerder|corporatie|verhuurder|"
    r"schuldhulp\w*|instanties|verslavingszorg|reclassering\w*|klantmanager|\bggz\b|\bgp\b|therapist|employer|doctor",
    re.I,
)
_CONSENT_COMM = re.compile(r"\bbel\w*|call\w*|contact\w*|prat\w*|sprek\w*|\btalk|\bspeak|vertel\w*|\btell|informe\w*|inform\w*|vragen|mail\w*", re.I)


def _consent_scope(text: str) -> bool:
    return bool(_CONSENT_SCOPE.search(text) or (_CONSENT_THIRD.search(text) and _CONSENT_COMM.search(text)))


_CONSENT_STRONG = re.compile(
    r"(?:geeft|gaf|geven|gaven|geef|gegeven|heeft|hebben|heb|had)\s+(?:\w+\s+){0,5}?(?:toestemming|instemming)(?!\s+(?:nodig|vragen|gevraagd))|"
    r"toestemming\s+(?:is\s+|werd\s+)?(?:gegeven|verleend|gekregen|ok\b|oké|okay|aanwezig|binnen|ja\b)|toestemming\b[^.\n]{0,80}?:\s*(?:ja|yes|akkoord|ok)\b|"
    r"met\s+(?:zijn|haar|hun|mijn|onze)\s+(?:\w+\s+)?(?:toestemming|instemming)|"
    r"ingestemd|stem(?:t|de|men|den)?\s+(?:\w+\s+){0,2}in\s+met|\binstemming\s+(?:gegeven|van\s+(?:mw|dhr|mevrouw|meneer|cli[eë]nt|moeder|vader|ouders))|"
    r"\bakkoord\s+(?:is\s+|zijn\s+|was\s+|gaat\s+)?(?:met|voor|dat|om|te|mee|wijkteam|bespr\w*|delen|van)\b|^\W*toestemming\s+(?:om|voor|tot)\b|"
    r"(?:ga|gaat|ging|gaan|gingen|is|was|zijn|waren|ben|verklaart|verklaarde)\s+(?:\w+\s+){0,3}?akkoord\b|"
    r"\bakkoord\s*(?:mw|mevr|mevrouw|dhr|meneer|pt|pati[eë]nt|cli[eë]nt|client|ouders|moeder|vader)\b|^\W*akkoord\W*$|"
    r"\bakk\.\s*(?:bespr|wijkteam|met|voor)|\bakkoord\s+te\s+zijn|"
    r"\b(?:agree[sd]?|consent(?:s|ed)?)\s+(?:to|that|with|for)\b|has\s+(?:\w+\s+)?(?:agreed|consented)|"
    r"(?:gave|give[sn]?|given|granted)\s+(?:\w+\s+){0,3}?(?:consent|permission)|"
    r"(?:consent|permission)\s+(?:is\s+|was\s+)?(?:given|granted|ok\b|okay)",
    re.I | re.M,
)
_CONSENT_SOFT = re.compile(
    r"(?:vind|vindt|vinden|vond|vonden)\s+(?:ik\s+|wij\s+|we\s+|hij\s+|zij\s+|ze\s+|u\s+)?(?:het\s+|dat\s+)?(?:\w+\s+)?['‘\"]?(?:goed|prima|oké|oke|ok|okay|fijn|best)\b(?!\s+ge\w+)|"
    r"\b(?:het|dat)\s+is\s+(?:\w+\s+)?(?:goed|prima|oké|ok|okay)\s+(?:dat|als)\b|"
    r"\b(?:het|dat)\s+(?:ook\s+|wel\s+|allemaal\s+)?(?:goed|prima|oké|oke|ok|okay|fijn)\s+(?:vind|vindt|vinden|vond|vonden)\b|"
    r"\bdat\s+(?:ik|wij|we|u|jullie|het\s+wijkteam)\s+(?:[\w,]+\s+){0,6}?(?:mag|mogen)\s+(?:\w+\s+)?(?:doorgeven|door\s+te\s+geven|delen|geven|doorsturen|bespreken|aanmelden|overleggen|bellen|contact)|"
    r"(?:het\s+)?er(?:over|mee)\s+eens|"
    r"\b(?:zegt|zei|zeggen)\s+(?:\w+\s+){0,3}?(?:ok|oké|ja)\b|\bik\s+zeg\s+ja\b|(?:het|dat)\s+(?:is\s+)?goed\s+is\s+dat|zei\s+dat\s+het\s+goed\s+is|"
    r"(?:is|zijn)\s+(?:het\s+)?(?:ermee|er\s+mee|het\s+(?:er\s+)?mee)\s+eens|"
    r"(?:^|\b)(?:u|jullie|het\s+wijkteam|you|your\s+team)\s+(?:[\w,]+\s+){0,8}?(?:mag|mogen|may)\s+(?!ik\b|wij\b|we\b)|\b(?:mag|mogen)\s+(?:u|jullie|het\s+wijkteam)\b|"
    r"\b(?:you\s+are|you're)\s+(?:\w+\s+)?welcome\s+to\b|\bfeel\s+free\s+to\b|"
    r"\b(?:mag|mogen)\s+(?:\w+\s+)?(?:gerust|alles)\b|\bwil(?:len)?\s+(?:\w+\s+){0,2}graag\s+dat\s+(?:ik|wij|we)\s+(?:\w+\s+){0,3}gegevens|"
    r"\b(?:is|are|am)\s+(?:\w+\s+)?(?:fine|happy|ok|okay)\s+(?:with\s+(?:you|your|the\s+(?:wijkteam|team)|sharing|that|this|it)\b|for\s+(?:you|your|the|us\s+to)\b)|"
    r"no\s+objection|geen\s+bezwaar\s+(?:tegen|dat)\s+(?:\w+\s+){0,4}(?:delen|bespre|contact|overleg|aanmeld)",
    re.I | re.M,
)
_CONSENT_NEG_BEFORE = re.compile(r"\b(?:niet|g[eé]{2}n|not|never|no|nooit)\b|n[’']t\b", re.I)
_CONSENT_VOID_BEFORE = re.compile(
    r"\b(?:nooit|zonder|without|alleen|only|als|indien|wanneer|if|whether|uitgelegd|uitleg|moet|moeten|hoeven|nodig|vragen\s+of|vraagt\s+of|"
    r"mag\s+ik|mogen\s+wij|mogen\s+we|kan\s+ik|kunnen\s+wij|of\s+(?:wij|we|ik|u|jullie|hij|zij|ze|het)|whether)\b", re.I)
_CONSENT_NO = re.compile(
    r"(?:(?:wil|wilt|willen|wenst|wensen|wilde|wou)\s+(?:[\w()]+\s+){0,4}?(?:niet|geen|absoluut\s+niet|echt\s+niet)\s+(?:\w+\s+){0,2}?|(?:niet|geen)\s+(?:wil|wilt|willen|wenst|wilde)\s+)dat\b"
    r"(?P<what>[^.!?\n]{0,160})|"
    r"(?:geef|geeft|geven|gaf|wil|wilt|willen)\s+(?:\w+\s+){0,3}?g[eé]{2}n\s+(?:toestemming|instemming)|"
    r"g[eé]{2}n\s+(?:toestemming|instemming)\s+(?:\w+\s+)?(?:om|voor|tot|dat)\b|(?:daar|hier)\s+(?:geef|geeft)\s+(?:\w+\s+)?g[eé]{2}n\s+toestemming|"
    r"(?:niet|not)\s+(?:\w+\s+)?(?:mee\s+)?akkoord|(?:\bnot|n[’']t)\s+(?:\w+\s+)?(?:agree|consent|give\s+(?:\w+\s+)?(?:consent|permission))|"
    r"(?:mag|mogen)\s+(?:\w+\s+){0,5}?(?:niet|niets|niks)\s+(?:\w+\s+){0,4}?(?:door\s*(?:te\s+)?geven|doorgeven|geven|delen|vertellen|horen|bekend)\b|"
    r"\b(?:niet|niets|niks)\s+(?:\w+\s+){0,4}?(?:mag|mogen)\s+(?:\w+\s+)?(?:doorgeven|door\s+te\s+geven|geven|delen|bekend|worden\s+(?:gedeeld|doorgegeven))|"
    r"(?:gevraagd|verzocht|asked|told)\s+(?:\w+\s+){0,6}?(?:niet|not)\s+(?:\w+\s+){0,5}?(?:door\s+te\s+geven|te\s+delen|te\s+bespreken|te\s+melden|"
    r"in\s+te\s+lichten|to\s+share|to\s+pass|to\s+tell|to\s+contact|to\s+inform)|"
    r"verbo(?:den|dt|od)\s+(?:\w+\s+){0,5}?(?:gegevens|door\s+te\s+geven|te\s+geven|te\s+delen|aan\s+te\s+melden|in\s+te\s+lichten)|"
    r"weiger\w*\s+(?:\w+\s+){0,3}?(?:toestemming|aanmelding|medewerking)|refuse[sd]?\s+(?:\w+\s+)?(?:consent|permission)|"
    r"liever\s+niet\s+(?:dat|delen|gedeeld|bespreken|besproken|betrekken|contact|inlichten)|"
    r"(?:wil|wilt|willen)\s+(?:\w+\s+){0,4}?(?:niet|geen)\s+(?:\w+\s+){0,3}?(?:delen|bespreken|betrekken|inlichten|informeren|doorgeven|aanmelden)\b|"
    r"(?:do(?:es)?\s*n[o'’]t|doesn[’']t|did\s*n(?:o|[’'])t)\s+(?:\w+\s+){0,2}?(?:want|wish)\b(?P<what_en>[^.!?\n]{0,120})|"
    r"toestemming\b[^.\n]{0,80}?:\s*(?:nee|no|geen)\b|\bnot\s+to\s+(?:share|contact|tell|inform|pass)|\bno\s+consent|"
    r"please\s+(?:do\s+not|don[’']t)\s+(?:contact|tell|share|inform|pass)",
    re.I,
)
_CONSENT_NO_WHAT = re.compile(
    r"gedeeld|\bdel(?:en|t)\b|doorgegeven|doorgeven|door\s+te\s+geven|doorgestuurd|besproken|bespreken|betrokken|benaderd|ingelicht|inlicht|"
    r"informeren|geïnformeerd|contact|\bhoort\b|\bhoren\b|te\s+horen|vertel\w*|melding|aangemeld|aanmeld\w*|\bdoor\w*gee?f\w*|\bgee?ft?\b|\bgeven\b|"
    r"erbij\s+(?:halen|haalt)|op\s+de\s+hoogte|hiervan|ervan|\b(?:het|dit|iets)\s+(?:\w+\s+)?(?:weet|weten|merkt)\b(?!\s+dat)|"
    r"(?:gegevens|informatie|info|naam)\b[^.]*\b(?:gaan|gaat|krijg\w*)\b|(?:jullie|\bu\b|wijkteam|gemeente)[^.]*\bbel(?:len|t)\b|"
    r"\bshar\w*|contact\w*|\btell\b|told|inform\w*|involv\w*|\bcall\w*",
    re.I,
)
_CONSENT_NO_VOID = re.compile(r"\bweten?\s+dat\b|\bweet\s+dat\b|\bknows?\s+that\b", re.I)
_CONSENT_CORE_TARGET = re.compile(r"\b(?:aan|met|naar|bij)\s+(?:de\s+|het\s+)?(?:gemeente|wijkteam|jullie|u)\b", re.I)
_AFFIRM = re.compile(r"^\W*(?:(?:dat|dit|het)\s+(?:vind\s+ik|vinden\s+wij|vinden\s+we|is)\s+(?:goed|prima|oké|ok)|(?:ja|yes)\W+(?:dat|that)\s+(?:mag|is\s+fine|is\s+ok)|dat\s+mag)\b", re.I)
# Cheap substring tests (on lower-cased text) decide which of the expensive
# expressions above are worth running on a clause.
_STRONG_WORDS = ("toestem", "akkoord", "akk.", "instem", "ingestemd", "stem", "consent", "agree", "permission")
_SOFT_WORDS = ("goed", "prima", "ok", "oké", "oke", "fijn", "best", "mag", "mogen", "may", "fine", "happy", "eens",
               "bezwaar", "objection", "zeg", "zei", "graag", "welcome", "free to")
_NEG_WORDS = ("niet", "geen", "géén", "not", "n't", "n’t", "verbo", "weiger", "refuse", "liever", "nee", "no ")
_NO_WORDS = ("dat", "toestem", "instem", "akkoord", "agree", "consent", "mag", "mogen", "gevraagd", "verzocht", "asked", "told", "verbo",
             "weiger", "refuse", "delen", "want", "wish", "share", "contact", "please", "bespr", "betrek", "inlicht", "inform",
             "doorge", "door te", "aanmeld", "geven")


def _has(text: str, words: tuple) -> bool:
    return any(w in text for w in words)


def _sentences(text: str) -> list[str]:
    return [s for s in _SENT_SPLIT.split(text) if s and s.strip()]


def read_consent(text: str, partner: bool = False) -> tuple[str, tuple[int, int] | None]:
    """'ja', 'nee' or 'onbekend', with the character span of the words it was
    read from (None for 'onbekend'). A partner who writes that the resident
    "gaat akkoord" or "geeft toestemming" gives 'ja' whatever it is about."""
    low = text.lower()
    if not (_has(low, _STRONG_WORDS) or _has(low, _SOFT_WORDS) or _has(low, _NEG_WORDS)):
        return "onbekend", None
    yes = no = None
    no_core = False
    pos = 0
    prev = ""
    for sent in _sentences(text):
        start = text.find(sent, pos)
        if start < 0:
            start = pos
        pos = start + len(sent)
        s = re.sub(r",?\s*(?:ok|oké|oke|goed|right|toch|hè)\s*\?+$", ".", sent.strip(), flags=re.I)
        lead = sent.find(s[:10]) if s else 0
        question = s.rstrip("'\"’”) ").endswith("?")
        sl = s.lower()
        if not question and (_has(sl, _STRONG_WORDS) or _has(sl, _SOFT_WORDS) or (_has(sl, _NEG_WORDS) and _has(sl, _NO_WORDS))):
            if yes is None and _AFFIRM.search(s) and prev.rstrip().endswith("?") and _consent_scope(prev):
                yes = (start, start + len(sent))
            for clause in _CLAUSE_SPLIT.split(s):
                off = start + max(0, lead) + max(0, s.find(clause))
                cl = clause.lower()
                for m in (_CONSENT_NO.finditer(clause) if _has(cl, _NEG_WORDS) and _has(cl, _NO_WORDS) else ()):
                    what = m.group("what") if m.group("what") is not None else m.group("what_en")
                    if what is not None and (not _CONSENT_NO_WHAT.search(what) or _CONSENT_NO_VOID.search(what)):
                        continue
                    if re.search(r"\bg[eé]{2}n\s+toestemming\b", m.group(0), re.I) and not re.search(
                            r"\b(?:geef|geeft|geven|wil|wilt|willen)\b", m.group(0), re.I) and not _consent_scope(clause):
                        continue
                    if no is None:
                        no = (off + m.start(), off + m.end())
                    if _CONSENT_CORE_TARGET.search(clause):
                        no_core = True
                    break
                if yes is not None:
                    continue
                for rx, needs_scope, hint in ((_CONSENT_STRONG, False, _STRONG_WORDS), (_CONSENT_SOFT, True, _SOFT_WORDS)):
                    hit = None
                    if not _has(cl, hint):
                        continue
                    for m in rx.finditer(clause):
                        before = re.split(r"[.!?:]\s", clause[: m.start()])[-1]
                        local = re.split(r",\s+|\s+(?:en|and)\s+", before)[-1]
                        if _CONSENT_NEG_BEFORE.search(before[-25:]) or _CONSENT_VOID_BEFORE.search(local):
                            continue
                        if re.search(r"\b(?:niet|g[eé]{2}n|not|nooit|never)\b|n[’']t\b", m.group(0), re.I):
                            continue
                        # outside a partner's referral, "akkoord" and "toestemming" in a
                        # longer clause must say what they are about ("akkoord met een
                        # betalingsregeling", "toestemming van de verhuurder" are no consent)
                        if needs_scope or (len(clause.split()) > 6 and not partner):
                            if not _consent_scope(clause) and not re.search(
                                    r"\b(?:hiermee|daarmee|hiervoor|daarvoor)\b|\b(?:deze|dit|this|the)\s+(?:\w+\s+)?"
                                    r"(?:aanmelding|melding|verwijzing|doorverwijzing|overdracht|referral)", clause, re.I):
                                continue
                        hit = m
                        break
                    if hit is not None:
                        yes = (off + hit.start(), off + hit.end())
                        break
        prev = s
    if no and (not yes or no_core):
        return "nee", no
    if yes:
        return "ja", yes
    return "onbekend", None


# ------------------------------------------------------------------ helpers
def _line_bounds(text: str, pos: int) -> tuple[int, int]:
    a = text.rfind("\n", 0, pos) + 1
    b = text.find("\n", pos)
    return a, (len(text) if b < 0 else b)


def _clean_name(name: str) -> str:
    jr = re.search(r"\s(?:jr|sr)\.$", name.strip())
    name = _TITLE_STRIP.sub("", name.strip(" ,.;:'‘’\"")).strip(" ,.;:'‘’\"")
    name = re.sub(r"\s+(?:Mijn|Ik|Wij|Ze|Hij|Zij|En|Heeft|Belt|Is|Woont|I|My|And|Tel|Mob|Mobiel|Telefoon|Geb|Adres|BSN)\b.*$", "", name).strip()
    # "Jansen van de Zeeweg": where someone lives is no part of the name
    name = re.sub(rf"\s+(?:van|aan|uit|from)\s+(?:de|het|'t|the)\s+[\w'\-]*(?:{_STREET_SUFFIX})\b.*$", "", name, flags=re.I).strip()
    if jr and re.search(r"\s(?:jr|sr)$", name):
        name += "."
    return name


def _tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[\s.]+", name.lower()) if t]


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
        places = list(municipality.woonplaatsen)
        # a configured place whose name contains another configured place
        # ("Nieuw Den Helder" in "Den Helder") is a district of it, no woonplaats
        self.districts = {p.lower() for p in places if any(q != p and q.lower() in p.lower() for q in places)}
        self.places = [p for p in places if p.lower() not in self.districts]
        self.place_words = {p.lower() for p in places} | {w.lower() for w in municipality.postcode_wijk.values()}
        self._place_rx = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in sorted(places, key=len, reverse=True)) + r")\b", re.I) \
            if places else re.compile(r"(?!)")
        self._known_single = {o.lower() for o in orgs if " " not in o}
        # the same organisations as the EntityRuler, as one expression for short segments
        heads = "huisartsenpraktijk|huisartspraktijk|gezondheidscentrum|basisschool|obs|cbs|ikc|kinderopvang|woningcorporatie|praktijk|apotheek|zorgcentrum|verpleeghuis|woonzorgcentrum|school"
        self._org_rx = re.compile(r"(?<![\w])(?:" + "|".join(re.escape(o) for o in sorted(orgs, key=len, reverse=True)) + r")(?![\w])|"
                                  rf"(?<![\w])(?:{heads})(?:\s+[A-Z][\w'\-]*)+|(?:[A-Z][\w'\-]*\s+)+(?:College|Lyceum|School|Scholengemeenschap)\b", re.I)
        self.own_numbers = {normalize_phone(municipality.kcc_phone.replace(" ", "")), "0223140223"}
        self.own_emails = {municipality.wijkteam_email.lower()}
        self.own_domain = municipality.wijkteam_email.lower().split("@")[-1]

    # --------------------------------------------------------------
    def extract(self, norm: Normalized, channel: str, aanmelder: str | None = None,
                kinderen_p: float | None = None) -> Extraction:
        out = Extraction()
        partner = channel == "partner" or aanmelder == "partner"
        naaste = not partner and aanmelder == "naaste"
        who = "partner" if partner else ("naaste" if naaste else "inwoner")
        body, signature = norm.body, norm.signature
        docs: dict[str, Doc] = {}
        parts = [("body", body)] + ([("signature", signature)] if signature else [])
        for part, text in parts:
            if text:
                docs[part] = self.nlp(text)

        # kinderen first: phone ownership of parents in partner referrals uses it
        kid_rule = _KIDS_RULE.search(body)
        if (kid_rule and not _ADULT_CHILD.search(kid_rule.group(0))) or (kinderen_p is not None and kinderen_p >= 0.6):
            out.fields["kinderen"] = True
            if kid_rule:
                out.evidence["kinderen"] = {"text": kid_rule.group(0), "part": "body", "start": kid_rule.start(), "end": kid_rule.end()}

        ctx = _Ctx(channel=channel, who=who, body=body)
        self._names(norm, ctx, out)
        for part, doc in docs.items():
            # a partner's or relative's own signature holds the writer's
            # details; only BSN and birth date there can be the resident's
            own_sig = part == "signature" and who in ("partner", "naaste")
            text = body if part == "body" else signature
            self._contacts(doc, text, part, out, ctx, own_sig)
            if not own_sig:
                self._places(text, part, out, who)
        if "bsn" not in out.fields and norm.subject:
            for m in _BSN.finditer(norm.subject):
                digits = re.sub(r"\D", "", m.group(0))
                if bsn_valid(digits):
                    self._put(out, "bsn", digits, m.group(0), "subject", m.start(), m.end())
                    break
        if partner:
            org = self._organisation(norm, docs)
            if org:
                out.fields["aanmelder_organisatie"] = org[0]
                out.evidence["aanmelder_organisatie"] = org[1]
            # the referrer's own sign-off inside the body (no signature split off)
            so = next((m.start() for m in re.finditer(r"^.*$", body, re.M) if _SIGNOFF_LINE.match(m.group(0))
                       and len(m.group(0).split()) <= 6 and m.start() > len(body) // 3), None)
            ev = out.evidence.get("aanmelder_organisatie")
            if so is not None:
                ctx.closing_start = so
            elif ev and ev["part"] == "body" and ev["start"] > len(body) // 2:
                ctx.closing_start = body.rfind("\n", 0, ev["start"]) + 1
        self._choose_phone(out, ctx)
        self._choose_email(out, ctx)
        if norm.quoted and channel == "email" and who == "inwoner":
            if "email" not in out.fields:
                self._email_from_quoted(norm.quoted, out)
            self._own_quoted_mail(norm.quoted, out, ctx)
            self._inline_answers(norm.quoted, out, ctx)
        if partner:
            out.fields["aanmelder"] = "partner"
        else:
            out.fields["aanmelder"] = str(aanmelder) if aanmelder in ("inwoner", "naaste") else "inwoner"
        full = body + ("\n" + signature if signature else "")
        consent, span = read_consent(full, partner=partner)
        out.consent = consent
        if span:
            part, start = ("body", span[0]) if span[0] < len(body) else ("signature", span[0] - len(body) - 1)
            out.evidence["consent"] = {"text": full[span[0]:span[1]], "part": part, "start": start, "end": start + span[1] - span[0]}
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

    def _contacts(self, doc: Doc, text: str, part: str, out: Extraction, ctx: _Ctx, own_sig: bool) -> None:
        # `text` is doc.text: passed along because doc.text rebuilds the string token by token
        taken: list[tuple[int, int]] = []
        phones = ctx.phones
        for label, s, e, raw in doc.user_data["contact"]:
            if label == "PHONE":
                taken.append((s, e))
                if own_sig:
                    continue
                dm = re.match(r"\d{1,2}\s*[-/.]\s*\d{1,2}\s*[-/.]\s*(?:\d{4}|\d{2})(?!\d)", raw)
                if dm and parse_date(dm.group(0)):
                    continue  # "02-11-1993\n06...": a date, then something else
                if re.search(r"\b[A-Z]{2}\d{2}\s?[A-Z]{4}\s?$", text[max(0, s - 12): s]):  # an IBAN
                    continue
                val = normalize_phone(raw)
                if val and val not in self.own_numbers:
                    phones.append((val, raw, part, s, e, text))
            elif label in ("EMAIL", "EMAIL_OBF"):
                if own_sig:
                    continue
                if label == "EMAIL":
                    val = raw.lower().rstrip(".")
                else:
                    m = _EMAIL_OBF.match(raw)
                    domain = re.sub(r"\s*(?:\(punt\)|\[punt\]|\(dot\)|\[dot\]|\spunt\s|\sdot\s)\s*", ".", m.group(2))
                    val = f"{m.group(1)}@{domain}.{m.group(3)}".lower().replace(" ", "")
                if val in self.own_emails or val.endswith("@" + self.own_domain):
                    continue
                ctx.emails.append((val, raw, part, s, e, text))
            elif label == "POSTCODE":
                if own_sig:
                    continue
                m = _POSTCODE.match(raw)
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
                if own_sig or "straat_huisnummer" in out.fields:
                    continue
                self._street(_STREET.match(raw), text, part, s, out)
        if not own_sig and "straat_huisnummer" not in out.fields:
            self._street_in_context(text, part, out)

    def _street(self, m, text: str, part: str, s: int, out: Extraction) -> bool:
        if not m:
            return False
        street = m.group(1).split("\n")[-1].strip()
        words = street.split()
        # "aan de Weststraat": a leading lower-case article is no part of the name
        while words and (words[0] in {"Mijn", "Ik", "Wij", "We", "Het", "Op", "In", "Aan", "Naar", "Wonend", "Adres", "Woont",
                                      "Woonachtig", "Uit", "My", "The", "At", "Naam", "Dhr", "Mw", "Mevrouw", "Meneer"}
                         or (words[0] in {"de", "het", "den", "der", "van", "aan", "op"} and len(words) > 1 and words[1][:1].isupper())):
            words = words[1:]
        street = " ".join(words)
        number = m.group(2).strip()
        if number.endswith("?") or text[s + len(m.group(0)): s + len(m.group(0)) + 2].lstrip(" \t").startswith("?"):
            return False  # "Jan in 't Veltstraat 2? (nog bevestigen)": not sure
        if not street or not street[0].isupper() or street in _NOT_STREETS or words[0] in _NOT_STREETS:
            return False
        head = next((w for w in words if w.lower().strip(".") not in {"van", "de", "den", "der", "het", "ter", "ten", "in", "op", "'t", "drs", "dr", "prof", "mr", "ir", "st", "sint"}
                     and not re.fullmatch(r"(?:[A-Z]\.)+", w)), words[0])
        if street.lower() in self.place_words or (head.lower() in _NOT_NAME_WORDS and len(words) == 1):
            return False
        if head is words[0] and head.lower() in _NOT_NAME_WORDS:
            return False
        if re.fullmatch(r"(?:19|20)\d\d", number) and not re.match(r"\s*(?:,|\n|\|)\s*(?:[1-9]\d{3}\s?[A-Z]{2}|[A-Z])", text[s + len(m.group(0)):]):
            return False  # "Uruzgan 2007": a year
        if re.search(r"(?i)(?:\bwas|vroeger|voorheen|oude?\s+adres)\s*:?\s*$", text[max(0, s - 20): s]):
            return False  # a former address
        value = f"{street} {number}"
        start = s + m.group(0).find(street)
        self._put(out, "straat_huisnummer", value, value, part, start, start + len(value))
        return True

    def _street_in_context(self, text: str, part: str, out: Extraction) -> None:
        for m in re.finditer(_STREET_NAME_ANY, text):
            before = text[max(0, m.start() - 40): m.start()]
            after = text[m.end(): m.end() + 20]
            first = m.group(1).split()[0]
            if first.lower() in _NOT_NAME_WORDS or first in _NOT_STREETS:
                continue
            ctx_before = _STREET_CTX_BEFORE.search(before)
            line_a, line_b = _line_bounds(text, m.start())
            line = text[line_a:line_b]
            next_line = text[line_b + 1: text.find("\n", line_b + 1) if text.find("\n", line_b + 1) >= 0 else len(text)]
            place_after = re.match(r"^\s*(?:,|\||\s(?:in|te))?\s*(?:[1-9]\d{3}\s?[A-Z]{2}\b|" + self._place_rx.pattern + ")", after, re.I)
            own_line = line.strip().startswith(m.group(0).strip()) and (
                re.match(r"^\s*(?:,|$)", after) is not None and (
                    re.search(r"^\s*(?:[1-9]\d{3}\s?[A-Z]{2}\b|" + self._place_rx.pattern + r")", next_line, re.I) is not None
                    or place_after is not None))
            strong = ctx_before and re.search(r"(?i)(?:aan|op)\s+de|adres|wonende|huurder\s+van|woning|ontruiming\s+van|lives?|living|address", ctx_before.group(0))
            if not (place_after or own_line or strong or (ctx_before and _STREET_CTX_AFTER.match(after))):
                continue
            if re.match(r"\s*(?:jaar|jr|uur|euro|keer|%|kinderen|dagen|weken|maanden)", after, re.I):
                continue
            if self._street(m, text, part, m.start(), out):
                return

    def _in_range(self, digits: str) -> bool:
        lo, hi = self.m.postcode_range
        return lo <= int(digits) <= hi

    # -------------------------------------------------------------- phones
    def _resident_contact(self, text: str, s: int, ctx: _Ctx) -> bool:
        """Is the number (or address) at ``s`` the resident's? Decided by the
        words right before it on the same line: "haar nummer", "Tel. vader",
        "bel mij", "tb dochter", "Nummer mw.", "via zijn moeder"."""
        c = ctx
        who = c.who
        a = max(text.rfind("\n", 0, s) + 1, s - 70)
        cx = text[a:s]
        nums = list(re.finditer(r"\d[\d \t\-./()]{6,}\d", cx))
        if nums:
            between = cx[nums[-1].end():]
            if re.fullmatch(r"\s*(?:of|or|/|,|en|and)\s*", between, re.I):
                return self._resident_contact(text, a + nums[-1].start(), ctx)  # "0223-745530 of 06-50117722"
            cx = between
        sc = list(re.finditer(r"[.!?]\s+(?=[A-Z])", cx))
        if sc:
            cx = cx[sc[-1].end():]
        rl = _PH_ROLE_LABEL.search(cx)
        label = (rl.group(1) or rl.group(2) or rl.group(3)).lower() if rl else None
        tl = _PH_TITLE.search(cx)
        title = (tl.group(1) or tl.group(2) or tl.group(3)).lower() if tl else None
        title = _TITLE_NORM.get(title, title)
        if _PH_OTHER_LABEL.search(cx):
            return False  # "Tel. huisarts: ...", "Fax: ..."
        nl = re.search(r"\b(?:tel\.?|telefoon|nummer|nr\.?|mobiel|phone)\s+([A-Z][\w'\-]+)\s*:?\s*$", cx)
        if nl and nl.group(1).lower() in c.naam_tokens:
            return True  # "Tel Esmee 06 ..."
        if who == "naaste":
            for r in (label, title):
                if r and r in self._ctx_roles(c)[0]:
                    return False
                if r and r in self._ctx_roles(c)[1]:
                    return True
            if _PH_RESIDENT.search(cx):
                return True
            if _PH_SELF.search(cx) or _PH_CALLBACK.search(cx) or title:
                return False
            if label:
                return c.channel == "phone"  # "Zus tel: ..." where the brother calls
            ev = c.naam_evidence
            return bool(ev) and ev[0] == "body" and 0 <= s - ev[1] <= 90 and text == c.body
        if who == "inwoner":
            if label and label in self._ctx_roles(c)[0]:
                return True  # "Vader belt ... Tel vader 06-..."
            if _PH_RESIDENT.search(cx) or title:
                return True
            return not label  # "Tel. vriendin", "Buurvrouw: 06 ...": someone else's
        # partner
        if _PH_SELF.search(cx):
            return False
        if label:
            return label in _PARENT_ROLES and c.minor_case
        return True

    def _choose_email(self, out: Extraction, ctx: _Ctx) -> None:
        for val, raw, part, s, e, text in ctx.emails:
            if ctx.who == "partner" and part == "body" and s >= ctx.closing_start:
                continue  # the referrer's own address under their name
            if self._resident_contact(text, s, ctx):
                self._put(out, "email", val, raw, part, s, e)
                return

    def _choose_phone(self, out: Extraction, ctx: _Ctx) -> None:
        who = ctx.who
        ok = []
        for val, raw, part, s, e, text in ctx.phones:
            if part == "signature" and who != "inwoner":
                continue
            if who == "partner" and part == "body" and s >= ctx.closing_start:
                continue  # the referrer's own number under their name
            if part == "signature" and not val.startswith("06") and re.search(
                    r"\b(?:B\.?V\.?|N\.?V\.?|Ltd|GmbH|Inc|Holding)\b", text):
                continue  # a company's switchboard in the writer's work signature
            if not self._resident_contact(text, s, ctx):
                continue
            unsure = bool(re.match(r"\s*\?", text[e:e + 3]))
            ok.append((unsure, val, raw, part, s, e))
        if not ok:
            return
        # "06-10101010? (mw. corrigeert: 06-10101212)": a number marked
        # uncertain gives way to a later one
        sure = [o for o in ok if not o[0]]
        _, val, raw, part, s, e = (sure or ok)[0]
        self._put(out, "telefoon", val, raw, part, s, e)

    def _email_from_quoted(self, quoted: str, out: Extraction) -> None:
        """The resident forwarded or replied to a mail: their address is the
        recipient (Aan/To) of a mail they received, or the sender of their own
        earlier mail (a sender whose name is the resident's)."""
        def ok(addr: str) -> bool:
            return addr not in self.own_emails and not addr.endswith("@" + self.own_domain)
        for m in re.finditer(r"^[>\s]*(?:aan|to|cc)\s*:\s*([^\n]*)$", quoted, re.I | re.M):
            for a in _EMAIL.finditer(m.group(1)):
                addr = a.group(0).lower()
                if ok(addr):
                    self._put(out, "email", addr, a.group(0), "quoted", m.start(1) + a.start(), m.start(1) + a.end())
                    return
        name = set(_tokens(out.fields.get("naam", ""))) - {"en", "van", "de", "der", "den"}
        for m in re.finditer(r"(?:schreef|wrote|van|from)\s*:?\s*([^<\n]{0,60}?)\s*<([^<>\s]+@[^<>\s]+)>", quoted, re.I):
            addr = m.group(2).lower()
            shown = set(_tokens(m.group(1)))
            local = re.sub(r"[^a-z]", "", addr.split("@")[0])
            if ok(addr) and ((name & shown) or any(len(t) > 2 and t in local for t in name)):
                self._put(out, "email", addr, m.group(2), "quoted", m.start(2), m.end(2))
                return

    def _inline_answers(self, quoted: str, out: Extraction, ctx: _Ctx) -> None:
        """"Zie mijn antwoorden tussen uw vragen": the lines without '>' in a
        quoted mail are the resident's own answers."""
        lines = quoted.split("\n")
        if sum(1 for l in lines if l.startswith(">")) < 2:
            return
        own = [(i, l) for i, l in enumerate(lines) if l.strip() and not l.startswith(">") and not re.search(r"(?:schreef|wrote|geschreven)\b.*:\s*$", l)]
        if not own:
            return
        offs, pos = [], 0
        for l in lines:
            offs.append(pos)
            pos += len(l) + 1
        for i, line in own:
            doc = self.nlp(line)
            sub = Extraction()
            sub_ctx = _Ctx(channel=ctx.channel, who="inwoner", body=line)
            self._contacts(doc, line, "quoted", sub, sub_ctx, False)
            self._choose_phone(sub, sub_ctx)
            self._choose_email(sub, sub_ctx)
            for key, val in sub.fields.items():
                if key not in out.fields:
                    ev = dict(sub.evidence[key])
                    ev["start"] += offs[i]
                    ev["end"] += offs[i]
                    out.fields[key] = val
                    out.evidence[key] = ev

    def _own_quoted_mail(self, quoted: str, out: Extraction, ctx: _Ctx) -> None:
        """The resident forwards or quotes their own earlier mail ("Zie
        onderstaande mail"): details missing from the new text are read from
        that mail. Only when its sender is the resident (their name or
        address), never from a mail an organisation sent them."""
        want = {"telefoon", "straat_huisnummer", "postcode", "woonplaats", "bsn", "geboortedatum"} - set(out.fields)
        if not want:
            return
        name = set(_tokens(out.fields.get("naam", ""))) - {"en", "van", "de", "der", "den"}
        email = out.fields.get("email")
        for m in re.finditer(r"^[>\s]*(?:van|from)\s*:\s*([^\n]*)$|(?:schreef|wrote)\s+([^<\n]{1,60}?)\s*<([^<>\s]+@[^<>\s]+)>", quoted, re.I | re.M):
            sender = (m.group(1) or ((m.group(2) or "") + " <" + (m.group(3) or "") + ">")).lower()
            if not ((email and email in sender) or (name and name & set(_tokens(re.sub(r"<.*?>", " ", sender))))):
                continue
            # quote marks become spaces, so positions stay those of the quoted text
            rest = re.sub(r"^[ \t]*>+[ \t]?", lambda q: " " * len(q.group(0)), quoted[m.end():][:3000], flags=re.M)
            doc = self.nlp(rest)
            sub = Extraction()
            sub_ctx = _Ctx(channel=ctx.channel, who="inwoner", body=rest)
            self._contacts(doc, rest, "quoted", sub, sub_ctx, False)
            self._places(rest, "quoted", sub, "inwoner")
            self._choose_phone(sub, sub_ctx)
            self._choose_email(sub, sub_ctx)
            for key in want:
                if key in sub.fields:
                    ev = dict(sub.evidence[key])
                    ev["start"] += m.end()
                    ev["end"] += m.end()
                    out.fields[key] = sub.fields[key]
                    out.evidence[key] = ev
            return

    # -------------------------------------------------------------- places
    def _places(self, text: str, part: str, out: Extraction, who: str) -> None:
        if "woonplaats" in out.fields:
            return
        for m in self._place_rx.finditer(text):
            name = m.group(0)
            if name.lower() in self.districts:
                continue
            # "Nieuw Den Helder": skip the "Den Helder" inside a district name
            if any(text[max(0, m.start() - len(d)): m.end()].lower() == d for d in self.districts):
                continue
            before = text[max(0, m.start() - 60): m.start()]
            if re.match(r"[-\s](?:zuid|noord|oost|west|centrum|binnenstad)\b", text[m.end(): m.end() + 12], re.I):
                continue  # "Den Helder-Zuid": a part of town
            if _ORG_CTX.search(before) or re.search(r"[A-Z][\w\-]*[ \t]+$", before) and not re.search(r"\d[\w\-]*[ \t]+$|\b(?:in|te|at)[ \t]+$", before):
                if not re.search(r"(?:\b[1-9]\d{0,3}\s*[a-zA-Z]?|[1-9]\d{3}\s?[A-Z]{2})[ \t]+$", before):
                    continue
            line_a, line_b = _line_bounds(text, m.start())
            line_before = text[line_a:m.start()]
            address = re.search(r"(?:[1-9]\d{3}\s?[A-Za-z]{2}|\b[1-9]\d{0,3}\s*[a-zA-Z]?(?:-\w{1,3})?)\s*(?:,|\||\s(?:in|te))?\s*$", before) \
                or re.search(r"(?:[1-9]\d{3}\s?[A-Za-z]{2}|\b[A-Z][\w'\-]+\s+[1-9]\d{0,3}\s*[a-zA-Z]?)\s*\n\s*$", before)
            appos = re.search(r"(?:\(\s*\d{1,3}\s*\)|\b\d{1,3}\s*(?:jaar)?|[A-Z][\w'\-]+|\))\s*,\s*$", line_before) and \
                not re.search(r"\b(?:in|naar|van|uit|bij)\s+[A-Z][\w'\-]+\s*,\s*$", line_before)
            in_street = re.search(r"\b(?:aan|op)\s+de\s+[A-Z][\w'\-]+\s+(?:in|te)\s+$", before)
            living = _LIVING_CTX.search(before)
            if living and _PAST_OR_NOT.search(before[living.start() - 12 if living.start() >= 12 else 0: living.end()]):
                living = None
            short_line = len(text[line_a:line_b].split()) <= 6 and (line_before.strip() == "" or line_before.rstrip().endswith(","))
            closing = short_line and (part == "signature" or m.start() > len(text) * 0.6 or line_before.strip() != "")
            paren = re.search(r"\(\s*$", before) and re.match(r"\s*\)", text[m.end():]) and who != "partner"
            if address or appos or in_street or living or closing or paren:
                value = name if name[0].isupper() else name.title()
                self._put(out, "woonplaats", value, name, part, m.start(), m.end())
                return

    # -------------------------------------------------------------- names
    def _valid_name(self, name: str) -> bool:
        if not name or len(name) < 2 or name in _NOT_NAMES:
            return False
        words = [w for w in name.split() if not re.fullmatch(r"(?:[A-Z]\.)+", w)] or name.split()
        first = re.sub(r"[^\w'\-]", "", words[0]).lower()
        if first in _NOT_NAME_WORDS and not (len(words) > 1 and first in {"van", "de", "den", "der", "ter", "ten", "el", "al", "in"}):
            return False
        if len(words) == 1 and first in ("ben", "wil", "will", "may"):
            return False  # "Wil hulp", "Ben bang": only a first name with a surname
        if name.lower() in self.place_words or any(name.lower() == d for d in self.districts):
            return False
        if re.search(r"\d|@", name):
            return False
        if name.isupper() and len(name) <= 5:
            return False
        return True

    def _names(self, norm: Normalized, ctx: _Ctx, out: Extraction) -> None:
        channel, who = ctx.channel, ctx.who
        ctx.minor_case = "kinderen" in out.fields or bool(re.search(r"\(\s*(?:[1-9]|1[0-7])\s*(?:jaar|jr)?\s*[,)]|leerling|groep\s+\d", norm.body, re.I))
        cands: list[tuple[int, int, str, str, int]] = []  # (rank, position, name, part, start)

        body = norm.body
        part_text = {"body": body, "signature": norm.signature or "", "quoted": norm.quoted or ""}

        def add(rank: int, raw: str, part: str, start: int):
            name = _clean_name(raw)
            if self._valid_name(name):
                # the evidence points at the cleaned name ("Mw. de Vries" -> "de Vries")
                pos = part_text[part].find(name, start, start + len(raw) + 2)
                cands.append((rank, start, name, part, pos if pos >= 0 else start))

        texts = [("body", body)] + ([("signature", norm.signature)] if norm.signature and who == "inwoner" else [])
        for part, text in texts:
            low = text.lower()
            for m in (_LABEL_NAME.finditer(text) if ":" in text else ()):
                add(0, m.group(1), part, m.start(1))
            for m in (_LABEL_NAME_NOCOLON.finditer(text) if "naam" in low else ()):
                add(0, m.group(1), part, m.start(1))
            for m in (_IS_NAME.finditer(text) if _has(low, ("naam", "name", "heet", "ben ", "i am", "i'm", "this is", "hier is", "gaat om")) else ()):
                trig = m.group(0)[: m.start(1) - m.start()].lower()
                self_intro = re.search(r"\b(?:mijn|my)\s+(?:naam|name)|\bik\b|\bi\s+am|\bi'm|this\s+is|hier\s+is", trig)
                if who != "inwoner" and self_intro:
                    continue
                if self_intro and re.match(r"ik\s+ben\b", trig.strip()) and not re.match(r"[A-Z]", m.group(1)):
                    continue
                add(1 if len(m.group(1).split()) > 1 else 3, m.group(1), part, m.start(1))
            if who == "inwoner" and channel in ("chat", "email"):
                # "hoi ik ben priscilla. ik heb ...": a lower-case name in a lower-case message
                for m in re.finditer(r"(?:^|[.!?,]\s*|\b(?:hoi|hallo|hey|hi)\s+)(?:ik\s+ben|ik\s+heet|mijn\s+naam\s+is)\s+"
                                     r"([a-zà-ÿ]{3,15}(?:\s+(?:van\s+|de\s+|der\s+|den\s+)*[a-zà-ÿ]{2,15})??)(?=\s*(?:[.,!]|\d|$|\s+(?:en\s+)?ik\b|\s+uit\b))",
                                     text, re.M):
                    nm = m.group(1)
                    if sum(1 for ch in text if ch.isupper()) > len(text) // 60 + 2:
                        break
                    if any(t in _NOT_NAME_WORDS or re.match(r"(?:ge|be|ver|ont)\w{3}", t) or re.search(r"(?:ig|lijk|isch|baar|loos|end)$", t)
                           for t in nm.split() if t not in ("van", "de", "der", "den")):
                        continue
                    add(2, nm, part, m.start(1))
        blow = body.lower()
        for m in (_TITLE_NAME.finditer(body) if _has(blow, ("mw", "mevr", "dhr", "heer", "meneer", "mr", "mrs", "ms", "miss", "mej", "mvr", "mister", "madam")) else ()):
            after = body[m.end(): m.end() + 40]
            before = body[max(0, m.start() - 40): m.start()]
            if who == "naaste" and not re.search(r"\bvan\s*$", before) and (
                    _CALLER_VERB.match(after) or re.search(r"\((?:\w+\s+)?$", before) and re.match(r"\)?\s*(?:belt|bt|belde)", after)):
                continue
            if who == "naaste" and re.match(r"\W*(?:\(\w+\)\s*)?(?:belt|bt|belde|mailt)\s+(?:over|namens|ivm|i\.v\.m\.|voor|met\s+vraag\s+over)", after):
                continue
            if who == "partner" and re.search(r"(?:groet|namens|collega|ik\s+ben)\W*$", before, re.I):
                continue
            if re.search(r"(?:^|\n|\b)(?:dag|beste|geachte|hallo|hoi|dear|hi|hello|bedank\w*|thank\w*|goede(?:morgen|middag|navond)|goedendag)\s*$", before, re.I) or \
                    re.match(r"\s*(?:van|from|of)\s+(?:het|de|jullie|the|your)\s", after):
                continue
            add(2, m.group(1), "body", m.start(1))
        if who in ("partner", "naaste") or channel == "phone":
            for m in self._names_before_details(body):
                nm = m.group(0)
                after = body[m.end(): m.end() + 40]
                if _AGE_AFTER.match(after) or _DETAILS_AFTER.match(after):
                    age = _AGE_AFTER.match(after)
                    before = body[max(0, m.start() - 30): m.start()].lower()
                    if re.search(r"\b(?:op|aan|in|uit|naar|bij)\s+(?:de|het)\s*$", before):
                        continue  # "huurder op de Texelstroom (29 jaar)": a place
                    rel = re.search(rf"\b({_RELATIVE_WORDS})\s*,?\s*$", before)
                    if who == "inwoner" and rel:
                        continue
                    if who == "naaste" and rel and rel.group(1) in _CHILD_WORDS and age and age.group(1) and int(age.group(1)) < 18:
                        continue
                    if who == "naaste" and _CALLER_VERB.match(after[after.find(")") + 1:] if ")" in after[:12] else after):
                        continue
                    start = m.start()
                    lead = re.match(rf"(?:{_PREFIXES})\s+(?=[A-Z])", nm)
                    if lead and re.search(r"[a-z]\s*$", body[max(0, start - 3): start]) and len(nm[lead.end():].split()) == 1:
                        nm, start = nm[lead.end():], start + lead.end()  # "zoon van Jayden (11)": "van" is no name part
                    minor = age and age.group(1) and int(age.group(1)) < 18
                    add(3 if (who == "partner" and minor) else 2, nm, "body", start)
            if re.search(r",\s*['‘]?[A-Z]|noemt\s+zich|gaat\s+(?:het\s+)?om|\bken\s", body):
                for m in _PERSON_NOUN_APPOS.finditer(body):
                    add(3, m.group(1), "body", m.start(1))
        if who == "naaste":
            for m in _RELATIVE_NAME.finditer(body):
                rel, name, age = m.group(1).lower(), m.group(2), m.group(3)
                if rel in _CHILD_WORDS:
                    tail = body[m.end(2): m.end(2) + 20]
                    am = age or (re.match(r"\s*(?:is|van|\()\s*(\d{1,3})", tail) or [None, None])[1]
                    if not (am and int(am) >= 18):
                        continue
                add(2, name, "body", m.start(2))
            if norm.signature:
                for m in re.finditer(rf"\((?:{_RELATIVE_WORDS})\s+van\s+({_NAME.pattern})", norm.signature, re.I):
                    add(2, m.group(1), "signature", m.start(1))
        if who == "partner":
            # a referral about a child names a parent: the parent is the
            # household's contact ("Moeder, mevrouw Souad Benali", "moeder (Shanice, 24)")
            for m in re.finditer(rf"(?i:\b(?:moeder|vader|mother|father))\s*(?:,|\(|:)?\s*(?:(?i:{_TITLES})\.?\s+)?(?=[A-Z])({_NAME.pattern})", body):
                add(1, m.group(1), "body", m.start(1))
            # "... mogen doorgeven: Jolanda Kos, bereikbaar ...", "06-39958821 (Shanice)"
            for m in re.finditer(rf"(?i:gegevens|details|nummer|contact)[^.:\n]{{0,70}}:\s*(?:(?i:{_TITLES})\.?\s+)?(?=[A-Z])({_NAME.pattern})\s*,", body):
                add(1, m.group(1), "body", m.start(1))
            for m in re.finditer(rf"\d{{2}}[ \t]*\(({_NAME.pattern})\)", body):
                add(2, m.group(1), "body", m.start(1))
        if who == "inwoner" and channel in ("email", "chat"):
            sig = self._name_from_closing(body, norm.signature)
            if sig:
                name, part, start = sig
                cands.append((1, -1, name, part, start))
        if not cands and who == "inwoner" and norm.quoted:
            # the resident's own earlier mail ("schreef Yvette <...>"), or a
            # reply to them ("Beste mevrouw Yilmaz,")
            for m in re.finditer(rf"(?:schreef|wrote)\s+({_NAME.pattern})\s*<([^<>\s]+@[^<>\s]+)>", norm.quoted):
                addr = m.group(2).lower()
                if addr not in self.own_emails and not addr.endswith("@" + self.own_domain) and self._valid_name(_clean_name(m.group(1))) \
                        and not re.search(r"(?i)team|loket|gemeente|kcc|info|noreply|klantenservice|afdeling|bv\b|b\.v\.", m.group(0)):
                    add(5, m.group(1), "quoted", m.start(1))
                    break
            m = re.search(rf"(?:beste|geachte|dear|hallo)\s+(?:{_TITLES}\.?\s+)?({_NAME.pattern})\s*,", norm.quoted, re.I)
            if m:
                add(5, m.group(1), "quoted", m.start(1))
        if not cands and who != "partner":
            m = re.search(rf"\(({_NAME.pattern})\)", body)
            if m and self._valid_name(m.group(1)) and not re.fullmatch(r"[A-Z][a-z]+", m.group(1)):
                cands.append((6, m.start(1), m.group(1), "body", m.start(1)))
        if not cands:
            return
        cands.sort(key=lambda c: (c[0], c[1]))
        rank, _, name, part, start = cands[0]
        name, part, start = self._fullest(name, part, start, cands, norm, who)
        self._put(out, "naam", name, name, part, start, start + len(name))
        ctx.naam_evidence = (part, start)
        ctx.naam_tokens = set(_tokens(name))

    @staticmethod
    def _names_before_details(body: str):
        """Names followed by an age, a birth date or contact details:
        "Kevin de Wit (24)", "Hans Groot, Kanaalweg 153". Tried only where a
        capitalised word starts, not at every character."""
        end = -1
        for a in re.finditer(r"(?<![\w'’.\-])(?:[A-ZÀ-ÞĀ-Ž]|(?:van|de|der|den|ter|ten|el|al)\s)", body):
            if a.start() < end:
                continue
            m = _NAME.match(body, a.start())
            if m:
                end = m.end()
                nxt = body[end: end + 2]
                if nxt[:1] in "(,\n|" or nxt[1:2] in "(,":
                    yield m

    def _fullest(self, name: str, part: str, start: int, cands, norm: Normalized, who: str):
        """The fullest written form of the chosen person's name: "Mw.
        Sedney" + later "mw. C. Sedney", "Ik ben Femke" + signature "Femke
        Jansen", "S. Kaya" + "Sevgi Kaya"."""
        tok = [t for t in _tokens(name)]
        if not tok:
            return name, part, start
        pool = [(c[2], c[3], c[4]) for c in cands]
        if who == "inwoner" and norm.quoted:
            pool += [(m.group(1).strip(), "quoted", m.start(1)) for m in
                     re.finditer(rf"(?:schreef|wrote)\s+({_NAME.pattern})\s*<", norm.quoted)]
        best = (name, part, start)

        def fullness(n: str) -> tuple[int, int]:
            t = _tokens(n)
            return sum(1 for x in t if len(x) > 1), len(n)
        for other, opart, ostart in pool:
            ot = _tokens(other)
            if fullness(other) <= fullness(best[0]) or not self._valid_name(other) or " en " in other or "&" in other:
                continue
            bt = _tokens(best[0])
            single_first = len(bt) == 1 and ot[0] == bt[0]
            same_last = ot[-1] == bt[-1] and all(
                any(o == b or (len(b) == 1 and o.startswith(b)) for o in ot) for b in bt)
            if single_first or same_last:
                best = (other, opart, ostart)
        return best

    def _ctx_roles(self, ctx: _Ctx) -> tuple[set, set]:
        if ctx.roles is None:
            ctx.roles = self._roles(ctx.body, ctx.channel, ctx.who)
        return ctx.roles

    def _roles(self, body: str, channel: str, who: str) -> tuple[set, set]:
        """Who calls or writes (the caller) and who the message is about (the
        resident), as role words and titles: "Dochter belt over moeder",
        "Zus van dhr. Kaya belt", "Mijn vader ...", "op verzoek van mw. X"."""
        caller, resident = set(), set()
        if who == "partner":
            return caller, resident
        b = re.sub(r"\b(mw|mevr|dhr|ca|nr|tel|geb|buurvr|buurm)\.", r"\1 ", body, flags=re.I)
        titles = r"mw|mevr|mevrouw|dhr|meneer|de\s+heer"
        for m in re.finditer(rf"(?:^|[.\n/]\s*)(?:de\s+)?({_ROLE}|{titles})\b[^.\n]{{0,40}}?\b(?:belt|bt|belde|bel)\b", b, re.I):
            caller.add(_TITLE_NORM.get(m.group(1).lower(), m.group(1).lower()))
        for m in re.finditer(rf"\b({_ROLE})\s*\(\s*({titles})\s+[A-Z][\w'\-]+\s*\)\s*(?:belt|bt|belde)", b, re.I):
            caller.add(m.group(1).lower())
            caller.add(_TITLE_NORM.get(m.group(2).lower(), m.group(2).lower()))
        for m in re.finditer(rf"\b(?:over|namens|ivm|i\.v\.m\.|voor|mijn|m'n|onze|my|our|verzoek\s+van)\s+(?:zijn\s+|haar\s+|de\s+)?({_ROLE}|buurvr|buurm)\b"
                             rf"(?:\s*,?\s*\(?\s*({titles})\b)?", b, re.I):
            r = m.group(1).lower()
            r = {"buurvr": "buurvrouw", "buurm": "buurman"}.get(r, r)
            if r not in caller:
                resident.add(r)
            if m.group(2):
                t = _TITLE_NORM.get(m.group(2).lower(), m.group(2).lower())
                if t not in caller:
                    resident.add(t)
        for m in re.finditer(rf"\b(?:over|namens|ivm|voor|van|verzoek\s+van)\s+(?:zijn\s+|haar\s+)?({titles})\b", b, re.I):
            t = _TITLE_NORM.get(m.group(1).lower(), m.group(1).lower())
            if t not in caller:
                resident.add(t)
        aliases = {"mdr": "moeder", "vdr": "vader", "moeder": "mdr", "vader": "vdr"}
        resident |= {aliases[r] for r in resident if r in aliases}
        caller |= {aliases[r] for r in caller if r in aliases}
        return caller, resident

    def _name_from_closing(self, body: str, signature: str) -> tuple[str, str, int] | None:
        """The writer's name at the end of the message: a name line in the
        closing block ("Met vriendelijke groet, / Esther en Bas van der
        Meulen / Tel ..."), or an inline sign-off ("... Groet, Lex")."""
        for part, text in (("signature", signature), ("body", body)):
            if not text:
                continue
            lines = text.split("\n")
            offs, pos = [], 0
            for line in lines:
                offs.append(pos)
                pos += len(line) + 1
            # closing block: up to 8 trailing short lines
            idx = [i for i, l in enumerate(lines) if l.strip()]
            block = []
            for i in reversed(idx[-8:]):
                line = lines[i].strip()
                if part == "body" and (len(line.split()) > 8 or (line.endswith((".", "?", "!")) and len(line.split()) > 3)):
                    break
                block.insert(0, i)
            for i in block:
                line = lines[i]
                stripped = line.strip()
                m_off = _SIGNOFF_LINE.match(stripped)
                cand = stripped[m_off.end():].strip() if m_off else stripped
                if not cand or (m_off is None and _CONTACT_LINE.match(cand)
                                and not re.match(rf"{_NAME.pattern}\s*(?:[,|(]|0\d|\+\d)", cand)):
                    continue
                cand = re.sub(r"^van\s+", "", cand)
                inner = re.search(rf"\(\s*({_NAME.pattern})\s*\)", cand)
                cand = re.split(r"\s*[,(|]\s*|\s+(?:tel|tel\.|0\d|\+\d)", cand)[0].strip()
                cand = _TITLE_STRIP.sub("", cand).strip(" ,.")
                if inner and len(inner.group(1).split()) >= 2:
                    cand = inner.group(1)  # "Oma Thelma (Thelma Rijssel)"
                if re.match(r"(?:fam|familie|family)\b\.?", cand, re.I):
                    continue
                full = _COUPLE.fullmatch(cand) or _NAME.fullmatch(cand)
                lower_ok = m_off is not None or (i == idx[-1] and len(idx) >= 2)
                if not full and lower_ok and re.fullmatch(r"[a-zà-ÿ]{2,12}(?:\s+(?:van\s+|de\s+|der\s+)*[a-zà-ÿ]{2,15}){0,2}", cand) \
                        and not any(t in _NOT_NAME_WORDS for t in cand.split() if t not in ("van", "de", "der")):
                    full = True
                if full and self._valid_name(cand):
                    start = offs[i] + line.find(cand) if line.find(cand) >= 0 else offs[i]
                    return cand, part, start
            # an inline sign-off at the end of the last line: "... aangekomen? Groet, Marlies van Zon, 06-..."
            if idx:
                i = idx[-1]
                line = lines[i]
                m = re.search(rf"(?:^|[.!?]\s+|\s)(?i:{_SIGNOFF_WORDS})[,.!]?\s+((?:{_TITLES}\.?\s+)?(?:{_NAME.pattern}|[a-zà-ÿ]{{3,12}}))"
                              rf"\s*(?:[,(]|$|\s+0\d|\s+\+\d)", line)
                if m:
                    cand = _TITLE_STRIP.sub("", m.group(1)).strip(" ,.")
                    if self._valid_name(cand) and not (cand.islower() and cand in _NOT_NAME_WORDS):
                        return cand, part, offs[i] + m.start(1) + m.group(1).find(cand)
        return None

    # -------------------------------------------------------------- org
    def _organisation(self, norm: Normalized, docs: dict[str, Doc]) -> tuple[str, dict] | None:
        """The referring partner's organisation as written: from the closing
        block (the line with or after the writer's name and role), else from
        "namens / vanuit / ik werk bij ...", else a known organisation in the
        text."""
        sig = self._org_from_closing(norm, docs)
        intro = None
        for part, text in (("body", norm.body), ("subject", norm.subject)):
            if not text or intro:
                continue
            for m in _ORG_INTRO.finditer(text):
                org = self._trim_org(m.group(1))
                if org and not self._is_place(org):
                    start = m.start(1) + m.group(1).find(org)
                    intro = org, {"text": org, "part": part, "start": start, "end": start + len(org)}
                    break
        if sig and intro:
            # the same organisation named twice ("vanuit het Clusius College" /
            # "Clusius College Den Helder"): the first mention as written
            a, b = sig[0].lower(), intro[0].lower()
            return intro if (a.startswith(b) or b.startswith(a)) else sig
        if sig or intro:
            return sig or intro
        for part, text in (("signature", norm.signature), ("body", norm.body), ("subject", norm.subject)):
            if not text:
                continue
            doc = docs.get(part) or self.nlp(text)
            orgs = [e for e in doc.ents if e.label_ == "ORG"]
            if orgs:
                e = orgs[0]
                return e.text, {"text": e.text, "part": part, "start": e.start_char, "end": e.end_char}
        return None

    def _is_place(self, text: str) -> bool:
        t = text.lower().strip()
        return t in self.place_words or t in self.districts or bool(re.fullmatch(r"(?:wijk|buurt|team)?\s*[\w\- ]*(?:zuid|noord|oost|west|centrum)", t)) \
            and not re.search(r"[A-Z]{2,}", text) and len(text.split()) <= 2

    def _known_org(self, text: str) -> tuple[int, int] | None:
        m = self._org_rx.search(text)
        return (m.start(), m.end()) if m else None

    _ORG_CONNECT = {"de", "der", "des", "van", "voor", "en", "&", "aan", "op", "in", "'t", "het", "zur", "am"}
    _ORG_HEAD = re.compile(r"(?:consultatiebureau|huisartsenpraktijk|huisartspraktijk|praktijk|basisschool|school|parochie|gemeente|"
                           r"kinderopvang|apotheek|stichting|vereniging|politie|huisarts|bibliotheek|kerk|moskee|buurthuis)$", re.I)
    _ORG_WORDS = re.compile(r"(?i)(?:praktijk|centrum|school|huis|team|werk|zorg|dienst|stichting|groep|bureau|loket|bank|gemeente|vereniging|club|"
                            r"kerk|moskee|beheer|bewind|vastgoed|opvang|sport|therapie|fysio|college|lyceum|corporatie|woningstichting|instituut|"
                            r"organisatie|netwerk|bibliotheek|politie|reclassering|brandweer|kinderopvang|bso|kdv|ikc|obs|cbs|ggd|ggz|uwv|mee|"
                            r"verpleging|verloskund|apotheek|leerplicht|jeugd|raadslieden|consultatie|parochie|diaconie|energie|academie|"
                            r"department|legion|navy|army|church|council|service|association|foundation|agency|desk|office|partners)")

    def _trim_org(self, org: str, doc: Doc | None = None) -> str:
        """'Jeugd- en gezinscoach Parlan' -> 'Parlan'; 'Fysiotherapie Fit aan
        Zee' stays; 'Parlan jgc' -> 'Parlan'; 'KDV De Zeester, locatie ...'
        -> 'KDV De Zeester'."""
        org = re.sub(r"\s*\([^)]*\)\s*", " ", org).strip(" ,.;:-")
        org = re.split(r"\s*[,|]\s*|\s+(?:[-–]|/)\s+", org)[0].strip(" ,.;:")
        words = org.split()
        # leading roles and sentence-cased descriptions: "Teamleider thuiszorg",
        # "Maatschappelijk werker", "jeugd- en gezinscoach", "vrijwilliger"
        while words:
            w = words[0]
            nxt = words[1] if len(words) > 1 else ""
            if self._ORG_HEAD.match(w) and (nxt[:1].isupper() or nxt == "'t"):
                break
            known = w.lower() in self._known_single
            if _ORG_ROLE_WORD.match(w) or w[:1].islower() and w not in ("'t",) and not re.match(r"[a-z]\.[a-z]", w) \
                    or (w.endswith("-") and not (nxt == "en" and len(words) > 2 and words[2][:1].isupper())) \
                    or (w[:1].isupper() and not known and not re.fullmatch(r"[A-Z]{2,}", w) and nxt[:1].islower()
                        and nxt.lower() not in self._ORG_CONNECT and not nxt.endswith("-")):
                words = words[1:]
                continue
            break
        # the name runs on over capitalised words and connectors ("Leger des
        # Heils", "Kop van Noord-Holland"); a lower-case word ends it
        kept = []
        for i, w in enumerate(words):
            if w[:1].isupper() or w[:1].isdigit() or w in ("&",) or re.match(r"[A-Z]{2,}", w) \
                    or (i == 0 and self._ORG_HEAD.match(w) and len(words) > 1) \
                    or (w.endswith("-") and i + 1 < len(words) and words[i + 1] == "en"):
                kept.append(w)
            elif w.lower() in self._ORG_CONNECT and i + 1 < len(words) and (words[i + 1][:1].isupper() or words[i + 1] == "'t") \
                    and (w.lower() != "en" or i + 2 < len(words) or not kept or not kept[-1].endswith("-")):
                kept.append(w)
            else:
                break
        org = " ".join(kept).strip(" ,.;:&")
        if not org or len(org) < 2 or org.lower() in _NOT_NAME_WORDS or _ORG_ROLE_WORD.match(org) or _ORG_DEPT.match(org):
            return ""
        return org

    def _org_from_closing(self, norm: Normalized, docs: dict[str, Doc]) -> tuple[str, dict] | None:
        for part, text in (("signature", norm.signature), ("body", norm.body)):
            if not text:
                continue
            lines = text.split("\n")
            offs, pos = [], 0
            for line in lines:
                offs.append(pos)
                pos += len(line) + 1
            idx = [i for i, l in enumerate(lines) if l.strip()]
            if part == "signature":
                tail = idx[-8:]
            else:
                # the body's last lines when the signature was not split off
                tail = []
                for i in reversed(idx[-5:]):
                    line = lines[i].strip()
                    if len(line.split()) > 9 or line.endswith(("?", ".", ":")) and len(line.split()) > 4:
                        break
                    tail.insert(0, i)
            entries = []
            for i in tail:
                line = lines[i].strip()
                rest = _SIGNOFF_LINE.sub("", line, count=1).strip() if _SIGNOFF_LINE.match(line) else line
                if not rest:
                    continue
                if re.match(r"(?i)(?:tel|t|m|mob|mobiel|e-?mail|adres|werkdagen|bereikbaar|aanwezig|www\.|http)\b", rest) or "@" in rest \
                        or re.fullmatch(r"[\d\s+()\-./]+", rest) or re.match(r"(?i)(?:denk\s+aan|dit\s+bericht|disclaimer)", rest):
                    continue
                entries.append((i, rest))
            cands = []
            for k, (i, rest) in enumerate(entries):
                segs = [s for s in re.split(r"\s*[,|]\s*|\s+[-–]\s+", rest) if s.strip()]
                for j, seg in enumerate(segs):
                    seg = seg.strip()
                    if re.search(r"\d{3}|\d{4}\s?[A-Z]{2}", seg) or _ORG_DEPT.match(seg):
                        continue
                    if k == 0 and j == 0 and self._looks_like_person(seg, first_line=True):
                        continue  # the writer's name
                    inner = re.fullmatch(rf"{_NAME.pattern}\s*\(([^)]{{2,60}})\)", seg)
                    if inner:
                        seg = inner.group(1)  # "Esther (Vrijwaard)"
                    known = self._known_org(seg)
                    if known and known[0] > 0:
                        seg = seg[known[0]:]
                    org = self._trim_org(seg)
                    if not org or self._is_place(org):
                        continue
                    rank = 3 if known else 2 if self._ORG_WORDS.search(org) else 0 if self._looks_like_person(org) else 1
                    cands.append((rank, i, org))
            if cands:
                top = max(c[0] for c in cands)
                _, i, org = [c for c in cands if c[0] == top][-1]
                start = offs[i] + lines[i].find(org)
                return org, {"text": org, "part": part, "start": start, "end": start + len(org)}
        return None

    def _looks_like_person(self, text: str, first_line: bool = False) -> bool:
        text = _TITLE_STRIP.sub("", text.strip())
        if re.search(r"[A-Z]{2,}|&|\d|\b(?:Noord|Holland|Nederland|Kop)\b", text) or self._place_rx.search(text):
            return False
        if self._ORG_WORDS.search(text):
            return False
        if self._known_org(text):
            return False
        n = len(text.split())
        return bool(_NAME.fullmatch(text)) and ((1 <= n <= 4) if first_line else (2 <= n <= 3))
