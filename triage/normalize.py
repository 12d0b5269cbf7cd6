"""Text normalization: split a message into what the writer wrote now (body),
what they quoted from earlier mail (quoted) and their signature, and produce
the masked, lower-cased text that the models see.

Quoted replies never drive the category; the signature is kept apart for
extraction (names, phones, addresses) but kept out of the models' text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["Normalized", "normalize", "mask", "clean"]

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Lines that start quoted earlier mail: everything from there on is quoted.
_QUOTE_HEADER = re.compile(
    r"""^\s*(?:
        (?:op|on)\s.{0,120}?(?:schreef|wrote|heeft\s.{0,40}geschreven)\s*.{0,80}:\s*$
      | -{2,}\s*(?:oorspronkelijk\s+bericht|original\s+message|origineel\s+bericht)\s*-{2,}
      | (?:van|from)\s*:\s.+\n\s*(?:verzonden|sent|datum|date)\s*:
      | _{8,}\s*$
    )""",
    re.I | re.X | re.M,
)
_FORWARD_HEADER = re.compile(
    r"^\s*(?:-{2,}\s*(?:doorgestuurd\s+bericht|forwarded\s+message)\s*-{2,}|begin\s+doorgestuurd\s+bericht\s*:)",
    re.I | re.M,
)
_QUOTED_LINE = re.compile(r"^\s*>")

_SIGNOFF = re.compile(
    r"""^\s*(?:
        met\s+vriendelijke\s+groet(?:en)?|vriendelijke\s+groet(?:en)?|hartelijke\s+groet(?:en)?|
        mvg|m\.v\.g\.?|vr\.?\s*gr\.?|groet(?:en|jes)?|gr\.?|hoogachtend|liefs|
        alvast\s+bedankt(?:\s+en\s+groet)?|bij\s+voorbaat\s+dank|(?:alvast\s+)?bedankt|dank\s*(?:je|u)?\s*wel|alvast\s+dank|
        thank\s+you|many\s+thanks|thanks\s+a\s+lot|with\s+kind\s+regards|warm\s+regards|groetjes|doei|
        (?:met\s+)?(?:vr\.?|vriendelijke)\s*(?:gr\.?|groet(?:en)?)|
        kind\s+regards|best\s+regards|regards|best\s+wishes|best|cheers|thanks(?:\s+in\s+advance)?|sincerely|yours\s+sincerely|
        --\s*
    )[\s,.!]*(?:(?:van\s+)?(?:[A-Z]\.\s?){0,3}[A-Z][\w'\-]*(?:[ \t]+[\w'\-.]+){0,3}(?:,[ \t]*[\w \t]+)?)?[\s.]*$""",
    re.I | re.X,
)
_TRAILER = re.compile(
    r"^\s*(?:verzonden\s+(?:vanaf|met|vanuit)\s+(?:mijn\s+)?\w+|sent\s+from\s+my\s+\w+|"
    r"dit\s+e-?mailbericht\s+is\s+uitsluitend|disclaimer\b|this\s+e-?mail\s+is\s+confidential)",
    re.I,
)


@dataclass(frozen=True)
class Normalized:
    """A message split into its parts. ``model_text`` is what the models see."""

    body: str
    quoted: str
    signature: str
    subject: str
    model_text: str


def clean(text: str) -> str:
    """Unicode NFC, no zero-width or control characters, unix newlines."""
    text = unicodedata.normalize("NFC", text).translate(_ZERO_WIDTH)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return _CONTROL.sub(" ", text)


def _split_quoted(text: str) -> tuple[str, str]:
    """Split off quoted earlier mail. A forwarded message whose new text is
    (almost) empty keeps the forwarded content as the body: that *is* what
    the sender asks about."""
    fwd = _FORWARD_HEADER.search(text)
    if fwd and len(text[: fwd.start()].split()) < 12:
        forwarded = text[fwd.end():]
        # drop the forwarded header lines (Van:, Datum:, Onderwerp:, Aan:)
        forwarded = re.sub(
            r"^\s*(?:van|from|datum|date|onderwerp|subject|aan|to|cc|verzonden|sent)\s*:.*$",
            "", forwarded, flags=re.I | re.M)
        new, old = _split_quoted(forwarded)
        return (text[: fwd.start()].strip() + "\n" + new).strip(), old
    cut = len(text)
    m = _QUOTE_HEADER.search(text)
    if m and m.start() > 0:
        cut = m.start()
    elif m and m.start() == 0:
        cut = 0
    if fwd:
        cut = min(cut, fwd.start())
    head, tail = text[:cut], text[cut:]
    kept, quoted = [], [tail] if tail else []
    for line in head.split("\n"):
        (quoted if _QUOTED_LINE.match(line) else kept).append(line)
    body = "\n".join(kept).strip()
    if not body:  # only quotes: better to read them than nothing
        return re.sub(r"^\s*>+ ?", "", text, flags=re.M).strip(), ""
    return body, "\n".join(q for q in quoted if q).strip()


def _split_signature(body: str) -> tuple[str, str]:
    lines = body.split("\n")
    n = len(lines)
    # a sign-off in the last part of the message starts the signature
    start = max(0, n - 15)
    for i in range(n - 1, start - 1, -1):
        if _TRAILER.match(lines[i]):
            lines = lines[:i] + [""] * (n - i)  # trailer is noise; not signature
            break
    for i in range(start, n):
        if _SIGNOFF.match(lines[i]) and i > 0:
            return "\n".join(lines[:i]).strip(), "\n".join(lines[i:]).strip()
    full = "\n".join(lines).strip()
    # inline sign-off at the end of the last text line ("... Groet, Anna")
    m = re.search(r"(?i:met\s+vriendelijke\s+groet|met\s+vr\.?\s*groet|vr\.?\s*groet|mvg|groetjes|groet|gr\.|bedankt|thanks|regards)[!.]?\s*,?\s*"
                  r"((?:[A-Z]\.\s?){0,3}[A-Z][\w'\-]*(?:[ \t]+[\w'\-.]+){0,3}(?:,[ \t]*[A-Z][\w \t]+)?)\s*\.?\s*$", full)
    if m and len(m.group(1).split()) <= 5:
        return full[: m.start()].strip(), full[m.start():].strip()
    # a closing block of a name line and contact lines ("K. Pinas / 06 ..."): the signature
    flines = full.split("\n")
    start = None
    for i in range(len(flines) - 1, max(0, len(flines) - 7), -1):
        line = flines[i].strip()
        if not line or _CONTACT_LINE.search(line):
            continue
        if _NAME_LINE.fullmatch(line) and line.lower() not in _NOT_NAME_LINES:
            start = i
        break
    if start is not None:
        return "\n".join(flines[:start]).strip(), "\n".join(flines[start:]).strip()
    return full, ""


_CONTACT_LINE = re.compile(r"^(?:(?:tel|telefoon|mob|mobiel|e-?mail|adres|phone)\b.*|[\d+()\s\-]{9,}|\S+@\S+|.*\b\d{4}\s?[A-Z]{2}\b.*|[A-Z][\w.'\- ]+\s\d{1,4}\s?[a-zA-Z]?)$", re.I)


_NAME_LINE = re.compile(r"(?:(?:mw|mevr|dhr|fam)\.?\s+)?(?:[A-Z]\.\s?){0,3}(?:(?:van|de|der|den|ter|ten|el|al)\s+){0,3}[A-Z][a-zà-ÿ'\-]+(?:[ \t]+(?:(?:van|de|der|den|ter|ten|el|al)[ \t]+){0,3}[A-Z][a-zà-ÿ'\-]+){0,3}\.?")
_NOT_NAME_LINES = {"groet", "groeten", "bedankt", "alvast bedankt", "hallo", "help", "alstublieft", "alsjeblieft", "thanks"}


_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.I)
_PHONE = re.compile(r"(?<![\w])(?:\+31|0031|\(?0)[\s\-()0-9]{8,16}\d")
_POSTCODE = re.compile(r"\b[1-9]\d{3}\s?[a-zA-Z]{2}\b")
_DATE = re.compile(r"\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def mask(text: str) -> str:
    """Lower-case text with e-mail, URL, phone, postcode, date and numbers
    masked, so the models learn words, not people's details."""
    text = _EMAIL.sub(" zzemail ", text)
    text = _URL.sub(" zzurl ", text)
    text = _PHONE.sub(" zztelefoon ", text)
    text = _DATE.sub(" zzdatum ", text)
    text = _POSTCODE.sub(" zzpostcode ", text)
    text = _NUMBER.sub(" zzgetal ", text)
    text = text.lower()
    text = re.sub(r"[^\w\s'?!]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def normalize(text: str, subject: str | None = None, max_chars: int = 100_000) -> Normalized:
    text = clean(text or "")[:max_chars]
    subject = clean(subject or "").strip()
    body, quoted = _split_quoted(text)
    body, signature = _split_signature(body)
    if not body.strip():
        body = text.strip()
    subj = re.sub(r"^\s*(?:(?:re|fw|fwd|antw|doorst|tr)\s*:\s*)+", "", subject, flags=re.I)
    model_text = mask((subj + " . " if subj else "") + body)
    return Normalized(body=body, quoted=quoted, signature=signature, subject=subject, model_text=model_text)
