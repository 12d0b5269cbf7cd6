"""Raw e-mail bytes to an ``InboundMessage``: the parsing shared by the SMTP
and IMAP adapters.

``parse_email`` never raises. Whatever arrives (malformed headers, unknown or
wrong charsets, missing MIME boundaries, binary garbage, empty bytes) gives an
``InboundMessage``; what went wrong is listed in ``problems`` and the original
bytes are kept unchanged in ``raw``, so nothing is lost.

- Body text: text/plain is preferred from multipart/alternative, otherwise
  HTML is converted to text (paragraphs, line breaks, lists, links as
  "text (url)", no scripts or styles, entities decoded; blockquotes become
  "> " lines). Quoted replies are kept: ``triage.normalize`` splits them off.
  A forwarded message/rfc822 part is added below the line
  ``FORWARD_MARKER`` with its Van/Datum/Onderwerp (From/Date/Subject).
- Charsets: utf-8, iso-8859-1 (read as windows-1252 for 0x80-0x9f, the usual
  mislabelling), windows-1252, any other codec Python knows; an unknown
  charset or invalid bytes are read as utf-8 where valid and windows-1252 /
  latin-1 byte by byte elsewhere, never as an exception.
- ``auto_reply_reason`` tells automatic mail (RFC 3834 and common practice:
  out-of-office, bounces, mailing lists, bulk) that must never be answered.

Privacy: ``problems`` hold no header values or message text (defect class
names, charset labels and part types only), and the dataclass reprs leave out
addresses, subject, text and payloads, so logging an object leaks nothing.

Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email.message
import email.policy
import email.utils
import hashlib
import html
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.parser import BytesParser
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

__all__ = ["Attachment", "InboundMessage", "parse_email", "auto_reply_reason", "html_to_text",
           "decode_bytes", "FORWARD_MARKER"]

FORWARD_MARKER = "---------- Doorgestuurd bericht ---------"

# Column limits of triage.store (PostgreSQL enforces them; an oversized value
# would make the store refuse the message, and then nothing is acknowledged).
_MAX_NAME = 320
_MAX_ADDRESS = 254
_MAX_FILENAME = 255
_MAX_CONTENT_TYPE = 255
_MAX_MSGID = 998
_MAX_PARSED_HEADER = 4096  # longer address headers are not given to the stdlib address parser
_MAX_DEPTH = 40  # MIME nesting deeper than this is not walked (raw is kept)


@dataclass
class Attachment:
    filename: str | None
    content_type: str
    size: int            # bytes of the decoded payload
    data: bytes = field(repr=False)  # decoded payload (the store keeps it)


@dataclass
class InboundMessage:
    channel: str                  # "email"
    channel_message_id: str       # Message-ID without <>; missing/empty: "sha256:" + hex digest of raw
    sender: str | None = field(repr=False)        # From address, lower case (None if unparseable)
    sender_name: str | None = field(repr=False)   # display name, decoded
    to: list[str] = field(repr=False)             # To + Cc addresses, lower case
    subject: str = field(repr=False)              # decoded, whitespace-folded, "" when missing
    text: str = field(repr=False)                 # readable body text (quoted replies kept)
    in_reply_to: str | None       # without <>
    references: list[str]         # without <>
    auto_reply: str | None        # None, or why this automatic message must never be answered
    attachments: list[Attachment]
    raw: bytes = field(repr=False)  # the original bytes, unchanged
    date: datetime | None         # from the Date header, timezone-aware, None when unparseable
    problems: list[str]           # parse problems (undecodable charset, defects); the message is still accepted


# --------------------------------------------------------------- charsets
def _cp1252(data: bytes) -> str:
    """windows-1252, with latin-1 for the five bytes cp1252 leaves undefined."""
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        pieces = re.split(rb"([\x81\x8d\x8f\x90\x9d])", data)
        return "".join(p.decode("latin-1") if i % 2 else p.decode("cp1252") for i, p in enumerate(pieces))


def _cp1252_fallback(exc: UnicodeError):
    if isinstance(exc, UnicodeDecodeError):
        return _cp1252(bytes(exc.object[exc.start:exc.end])), exc.end
    raise exc


_FALLBACK = "kcc_mime_cp1252_fallback"
codecs.register_error(_FALLBACK, _cp1252_fallback)


def _utf8_lenient(data: bytes) -> str:
    """utf-8 where the bytes are valid utf-8, windows-1252/latin-1 byte by byte elsewhere."""
    return data.decode("utf-8", _FALLBACK)


_CHARSET_ALIASES = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "euc-cn": "gb18030",
    "ks_c_5601-1987": "cp949", "ks_c_5601": "cp949", "euc-kr": "cp949",
    "iso-8859-8-i": "iso-8859-8", "iso-8859-6-i": "iso-8859-6",
    "windows-874": "cp874", "x-mac-roman": "mac_roman", "macintosh": "mac_roman",
    "utf8mb4": "utf-8", "x-sjis": "shift_jis", "shift-jis": "shift_jis", "ansi": "cp1252",
}
_NOT_A_CHARSET = {"undefined", "unicode-escape", "raw-unicode-escape", "idna", "punycode", "mbcs", "oem",
                  "unicode-internal"}


def _codec_name(charset: str | None) -> str | None:
    """Python codec name for a MIME charset label; "ascii" when there is no
    label; None when the label is unknown or is not a text charset."""
    label = (charset or "").strip().strip("\"'").strip().lower()
    if not label:
        return "ascii"
    label = label.split("*", 1)[0]  # RFC 2231 language suffix
    label = _CHARSET_ALIASES.get(label, label)
    try:
        info = codecs.lookup(label)
    except Exception:  # noqa: BLE001 - LookupError, or ValueError for odd labels
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_A_CHARSET:
        return None
    return info.name


def decode_bytes(data: bytes, charset: str | None, problems: list[str] | None = None, what: str = "text") -> str:
    """Decode ``data`` labelled ``charset``; never raises. Problems are appended to ``problems``."""
    if problems is None:
        problems = []
    if not data:
        return ""
    name = _codec_name(charset)
    label = (charset or "").strip().lower()[:40]
    if name is None:
        problems.append(f"unknown charset {label!r} in {what}: read as utf-8 with latin-1 fallback")
        return _utf8_lenient(data)
    if name == "ascii":
        try:
            return data.decode("ascii")
        except UnicodeDecodeError:
            pass
        problems.append(f"8-bit bytes in {what} labelled {label or 'us-ascii (default)'}: read as utf-8 / windows-1252")
        return _utf8_lenient(data)
    if name == "iso8859-1":
        if any(b >= 0x80 for b in data):
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                return _cp1252(data)
            problems.append(f"{what} labelled iso-8859-1 but is utf-8: read as utf-8")
            return text
        return data.decode("ascii")
    if name == "cp1252":
        return _cp1252(data)
    if name == "utf-8":
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(f"invalid utf-8 in {what}: undecodable bytes read as windows-1252")
            return _utf8_lenient(data)
    try:
        return data.decode(name)
    except UnicodeDecodeError:
        problems.append(f"invalid {name} in {what}: undecodable bytes replaced")
        try:
            return data.decode(name, "replace")
        except Exception:  # noqa: BLE001 - a codec may fail in its own ways
            return _utf8_lenient(data)
    except Exception:  # noqa: BLE001
        problems.append(f"charset {label!r} in {what} could not be used: read as utf-8 with latin-1 fallback")
        return _utf8_lenient(data)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(s: str) -> str:
    """No NUL (PostgreSQL refuses it) and no lone surrogates (not encodable)."""
    if "\x00" in s:
        s = s.replace("\x00", "")
    return _SURROGATE.sub("\ufffd", s)


def _fix_8bit(value: str, problems: list[str], what: str) -> str:
    """Header text parsed from bytes carries raw 8-bit bytes as surrogate
    escapes: read them as utf-8 (RFC 6532) or windows-1252."""
    if not _SURROGATE.search(value):
        return value
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeError:
        return _SURROGATE.sub("\ufffd", value)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(f"8-bit bytes in {what} header: read as windows-1252")
        return _utf8_lenient(raw)


# --------------------------------------------------------------- headers
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([qQbB])\?([^?\s]*)\?=")


def _encoded_word_bytes(enc: str, text: str, problems: list[str]) -> bytes:
    raw = text.encode("utf-8", "surrogateescape")
    if enc in "qQ":
        return binascii.a2b_qp(raw, header=True)
    raw = re.sub(rb"[^A-Za-z0-9+/]", b"", raw)
    raw += b"=" * (-len(raw) % 4)
    try:
        return binascii.a2b_base64(raw)
    except (binascii.Error, ValueError):
        problems.append("invalid base64 in an encoded word")
        try:
            return base64.b64decode(raw[: len(raw) - len(raw) % 4] or b"")
        except (binascii.Error, ValueError):
            return b""


def decode_header_text(value, problems: list[str] | None = None, what: str = "header") -> str:
    """Decode RFC 2047 encoded words (adjacent words joined, also when a
    multi-byte character is split over two words) and raw 8-bit bytes."""
    if problems is None:
        problems = []
    try:
        value = "" if value is None else str(value)
    except Exception:  # noqa: BLE001
        return ""
    value = _fix_8bit(value, problems, what)
    if "=?" not in value:
        return value
    out: list[str] = []
    pending: list[list] = []  # [charset, bytes] runs of adjacent encoded words

    def flush():
        for cs, data in pending:
            out.append(decode_bytes(data, cs, problems, f"{what} header"))
        pending.clear()

    pos = 0
    for m in _ENCODED_WORD.finditer(value):
        gap = value[pos:m.start()]
        if not (pending and not gap.strip()):
            flush()
            out.append(gap)
        charset, enc, text = m.groups()
        charset = charset.split("*", 1)[0].lower()
        try:
            data = _encoded_word_bytes(enc, text, problems)
        except Exception:  # noqa: BLE001
            problems.append(f"undecodable encoded word in {what} header")
            data = m.group(0).encode("utf-8", "surrogateescape")
        if pending and pending[-1][0] == charset:
            pending[-1][1] += data
        else:
            pending.append([charset, data])
        pos = m.end()
    flush()
    out.append(value[pos:])
    return "".join(out)


def _fold(s: str) -> str:
    return " ".join(s.split())


def _raw_header_values(msg, name: str) -> list[str]:
    """All values of header ``name`` as they arrived (unfolded), never raising."""
    name = name.lower()
    out: list[str] = []
    try:
        items = list(msg.raw_items())
    except Exception:  # noqa: BLE001 - not a policy-based message, or broken
        try:
            items = [(name, v) for v in (msg.get_all(name) or [])]
        except Exception:  # noqa: BLE001
            return out
    for k, v in items:
        try:
            if not isinstance(k, str) or k.strip().lower() != name:
                continue
            v = v if isinstance(v, str) else str(v)
        except Exception:  # noqa: BLE001
            continue
        out.append(re.sub(r"\r?\n|\r", "", v).strip() if "\n" in v or "\r" in v else v.strip())
    return out


def _first_header(msg, name: str) -> str | None:
    values = _raw_header_values(msg, name)
    return values[0] if values else None


_ADDR_OK = re.compile(r"[^\s@\"<>()\[\],;:\\]+@[^\s@\"<>()\[\],;:\\]+")
_ADDR_FIND = re.compile(r"[^\s@\"<>()\[\],;:\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def _addresses(value: str | None, problems: list[str], what: str) -> list[tuple[str | None, str | None]]:
    """(display name, address) pairs; address lower case or None when unusable."""
    if not value:
        return []
    value = _fix_8bit(value, problems, what)
    if len(value) > _MAX_PARSED_HEADER:
        # the stdlib address parser is quadratic on some inputs (runs of quotes
        # or commas): a long header is split on separators instead (linear)
        problems.append(f"{what} header very long: addresses found by pattern")
        tokens = re.split(r"[\s<>,;\"()\[\]]+", value)
        found = [t.lower() for t in tokens if "@" in t and len(t) <= _MAX_ADDRESS and _ADDR_OK.fullmatch(t)]
        return [(None, a) for a in dict.fromkeys(found)]
    pairs: list[tuple[str | None, str | None]] = []
    trouble = False
    try:
        header = email.policy.default.header_factory(what, value)
        for a in header.addresses:
            name = _fold(a.display_name or "") or None
            spec = (a.addr_spec or "").strip()
            addr = spec.lower() if _ADDR_OK.fullmatch(spec) and len(spec) <= _MAX_ADDRESS else None
            trouble = trouble or addr is None
            pairs.append((name, addr))
    except Exception:  # noqa: BLE001 - the header parser has had its bugs
        trouble = True
        try:
            for name, spec in email.utils.getaddresses([value]):
                name = _fold(decode_header_text(name, problems, what)) or None
                spec = spec.strip()
                addr = spec.lower() if _ADDR_OK.fullmatch(spec) and len(spec) <= _MAX_ADDRESS else None
                pairs.append((name, addr))
        except Exception:  # noqa: BLE001
            pairs = []
    if trouble or not any(addr for _, addr in pairs):
        known = {addr for _, addr in pairs if addr}
        found = [m.group(0).lower() for m in _ADDR_FIND.finditer(decode_header_text(value[:4096], [], what))]
        extra = [a for a in dict.fromkeys(found) if a not in known and len(a) <= _MAX_ADDRESS]
        if extra:
            problems.append(f"{what} header not well-formed: addresses found by pattern")
            usable = [(n, a) for n, a in pairs if a]
            names = [n for n, _ in pairs if n and "@" not in n]
            pairs = usable + [(names[0] if (names and not usable and i == 0) else None, a) for i, a in enumerate(extra)]
    return pairs


_MSGID = re.compile(r"<([^<>]*)>")


def _msg_ids(value: str | None) -> list[str]:
    if not value:
        return []
    ids = ["".join(m.group(1).split()) for m in _MSGID.finditer(value)]
    ids = [i for i in ids if i]
    if not ids:  # no <...>: the bare tokens
        ids = [t.strip("<>") for t in value.split() if t.strip("<>")]
    return [_clean(i)[:_MAX_MSGID] for i in dict.fromkeys(ids)]


# --------------------------------------------------------------- auto replies
_NEGATIVE = {"no", "false", "0", "off"}
_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|antw|antwoord|antwort|sv|vs|odp|rif|res|r)\s*(?:\[\d+\]|\(\d+\))?\s*:\s*)+", re.I)
_TAG_PREFIX = re.compile(r"^\s*\[[^\]]{0,40}\]\s*")
_SUBJECT_RULES = [
    ("subject:out-of-office", re.compile(
        r"^[\[(]?\s*(?:automatisch(?:e)?\s+(?:antwoord|reactie|bericht)|automatic\s+reply|automatische\s+antwort"
        r"|abwesenheitsnotiz|out\s+of\s+(?:the\s+)?office"
        r"|(?:afwezig|niet\s+aanwezig)(?=\s*(?:$|:|\[|tot\b|t/m|tm\b|until\b|van\b.*\b(?:tot|t/m)\b)))",
        re.I)),
    ("subject:auto-reply", re.compile(
        r"^[\[(]?\s*(?:auto(?:matic)?[\s_-]?(?:reply|response|responder)|autoreply|autoresponse|autoresponder)\b",
        re.I)),
    ("subject:bounce", re.compile(
        r"^[\[(]?\s*(?:undeliverable|undelivered\s+mail|delivery\s+status\s+notification"
        r"|mail\s+delivery\s+(?:failed|failure|system|subsystem)|delivery\s+fail(?:ure|ed)|returned\s+mail\b"
        r"|failure\s+notice|onbestelbaar|unzustellbar|niet\s+afgeleverd)",
        re.I)),
]


def _subject_reason(subject: str) -> str | None:
    s = subject
    for _ in range(6):
        s = _REPLY_PREFIX.sub("", s)
        for reason, rx in _SUBJECT_RULES:
            if rx.search(s):
                return reason
        stripped = _TAG_PREFIX.sub("", s, count=1)
        if stripped == s:
            return None
        s = stripped
    return None


def _is_null_path(value: str | None) -> bool:
    return value is not None and "".join(str(value).split()) in ("", "<>")


def _localpart(addr: str | None) -> str:
    if not addr:
        return ""
    addr = str(addr).strip().strip("<>").strip()
    return addr.rsplit("@", 1)[0].strip().strip('"').lower() if addr else ""


_DAEMONS = {"mailer-daemon": "bounce:mailer-daemon", "mailer_daemon": "bounce:mailer-daemon",
            "mailerdaemon": "bounce:mailer-daemon", "postmaster": "bounce:postmaster"}


def _header_reasons(msg, envelope_from: str | None, return_path: str | None, problems: list[str]):
    """Yield reasons in order of specificity; each check guarded on its own."""
    def h(name):
        return _first_header(msg, name)

    # bounces: null reverse path, daemon senders, delivery reports
    if envelope_from is not None and _is_null_path(envelope_from):
        yield "bounce"
    if return_path is not None and _is_null_path(return_path):
        yield "bounce"
    rp = h("return-path")
    if rp is not None and _is_null_path(rp):
        yield "bounce"
    frm = h("from") or ""
    senders = [a for _, a in _addresses(frm, [], "from") if a][:1]
    if not senders and frm.strip():  # "MAILER-DAEMON", "Mail System <MAILER-DAEMON>"
        inner = re.search(r"<([^<>]*)>", frm)
        senders = [(inner.group(1) if inner else frm).strip()]
    for candidate in [*senders, envelope_from, return_path, rp]:
        reason = _DAEMONS.get(_localpart(candidate))
        if reason:
            yield reason
    try:
        if msg.get_content_type() == "multipart/report":
            yield "bounce:report"
    except Exception:  # noqa: BLE001
        pass
    if h("x-failed-recipients") is not None:
        yield "bounce:x-failed-recipients"
    # RFC 3834
    v = h("auto-submitted")
    if v is not None and v.split(";")[0].strip().lower() != "no":
        yield "auto-submitted"
    # common practice
    for name, reason in (("x-autoreply", "x-autoreply"), ("x-autorespond", "x-autorespond"),
                         ("x-autoreply-from", "x-autoreply"), ("x-mail-autoreply", "x-autoreply"),
                         ("x-autogenerated", "x-autogenerated"), ("x-autoresponder", "x-autorespond")):
        v = h(name)
        if v is not None and v.strip().lower() not in _NEGATIVE:
            yield reason
    v = h("x-auto-response-suppress")
    if v is not None and {t.lower() for t in re.split(r"[\s,;]+", v)} & {"all", "oof", "autoreply"}:
        yield "x-auto-response-suppress"
    v = h("precedence")
    if v is not None:
        p = v.split(";")[0].strip().lower().replace("-", "_")
        if p in ("bulk", "list", "junk", "auto_reply"):
            yield f"precedence:{p}"
    for name, reason in (("list-id", "list-id"), ("list-unsubscribe", "list-unsubscribe"),
                         ("mailing-list", "mailing-list")):
        if h(name) is not None:
            yield reason
    if h("x-ms-exchange-generated-message-source") is not None:
        yield "exchange-generated"
    v = h("x-fc-machinegenerated")
    if v is not None and v.strip().lower() == "true":
        yield "machine-generated"
    v = h("x-post-messageclass")
    if v is not None and "autoresponder" in v.lower():
        yield "x-post-messageclass"
    subject = _fold(decode_header_text(h("subject") or "", [], "subject"))
    if subject:
        reason = _subject_reason(subject)
        if reason:
            yield reason


def _auto_reply(msg, envelope_from, return_path, problems: list[str]) -> str | None:
    try:
        for reason in _header_reasons(msg, envelope_from, return_path, problems):
            return reason
    except Exception as exc:  # noqa: BLE001
        problems.append(f"auto-reply check failed ({type(exc).__name__})")
    return None


def auto_reply_reason(msg: email.message.Message, envelope_from: str | None = None) -> str | None:
    """Why ``msg`` is an automatic message that must never be answered
    (RFC 3834 and common practice), or None for a message from a person.

    ``envelope_from`` is the SMTP MAIL FROM (or the IMAP Return-Path) when
    known; "" or "<>" there is the null reverse path of a bounce. Reasons:
    "bounce" (null reverse path), "bounce:mailer-daemon", "bounce:postmaster",
    "bounce:report" (multipart/report), "bounce:x-failed-recipients",
    "auto-submitted", "x-autoreply", "x-autorespond", "x-autogenerated",
    "x-auto-response-suppress", "precedence:bulk|list|junk|auto_reply",
    "list-id", "list-unsubscribe", "mailing-list", "exchange-generated",
    "machine-generated", "x-post-messageclass", "subject:out-of-office",
    "subject:auto-reply", "subject:bounce".
    """
    return _auto_reply(msg, envelope_from, None, [])


# --------------------------------------------------------------- HTML to text
_WS = re.compile(r"[ \t\n\r\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")


class _HTMLToText(HTMLParser):
    PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "dl", "blockquote", "pre", "table",
                 "hr", "address", "figure", "fieldset", "form", "center"}
    LINE = {"div", "tr", "li", "dt", "dd", "section", "article", "header", "footer", "nav", "aside", "main",
            "caption", "tbody", "thead", "tfoot", "figcaption", "legend", "details", "summary", "body"}
    SKIP = {"script", "style", "title", "template", "svg", "xml"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.pending_nl = 0
        self.at_line_start = True
        self.space = False
        self.skip = 0
        self.pre = 0
        self.quote = 0
        self.lists: list[list] = []  # [kind, counter]
        self.item_prefix = ""
        self.links: list[tuple[str | None, int]] = []
        self.cells = 0

    # output
    def _break(self, n: int):
        self.pending_nl = max(self.pending_nl, n)
        self.space = False

    def _emit(self, text: str):
        if self.pending_nl:
            if self.parts:
                self.parts.append("\n" * self.pending_nl)
                self.at_line_start = True
            self.pending_nl = 0
        if self.at_line_start:
            prefix = "> " * min(self.quote, 10)
            if self.lists:
                prefix += "  " * min(len(self.lists) - 1, 10)
            prefix += self.item_prefix
            self.item_prefix = ""
            if prefix:
                self.parts.append(prefix)
            self.at_line_start = False
        elif self.space:
            self.parts.append(" ")
        self.space = False
        self.parts.append(text)

    # parser callbacks
    def handle_starttag(self, tag, attrs):
        tag = tag.lower()
        if tag in self.SKIP:
            self.skip += 1
            return
        if tag == "br":
            if self.pending_nl:
                self.pending_nl += 1
            elif self.parts:
                self.parts.append("\n")
                self.at_line_start = True
            self.space = False
            return
        if tag == "body":  # an unclosed <title> or <style> in the head ends here
            self.skip = 0
        if tag in ("ul", "ol"):
            self._break(1 if self.lists else 2)
            self.lists.append([tag, 0])
            return
        if tag == "li":
            self._break(1)
            if self.lists:
                self.lists[-1][1] += 1
                kind, n = self.lists[-1]
                self.item_prefix = f"{n}. " if kind == "ol" else "- "
            else:
                self.item_prefix = "- "
            return
        if tag == "blockquote":
            self._break(2)
            self.quote += 1
            return
        if tag == "pre":
            self.pre += 1
        if tag in self.PARAGRAPH:
            self._break(2)
        elif tag in self.LINE:
            self._break(1)
        if tag == "tr":
            self.cells = 0
        elif tag in ("td", "th"):
            if self.cells:
                self.space = True
            self.cells += 1
        elif tag == "a":
            href = None
            for k, v in attrs:
                if k and k.lower() == "href" and v:
                    href = v.strip()
            if len(self.links) >= 20:  # unclosed <a>s: keep the stack (and the work per </a>) small
                self.links.pop(0)
            self.links.append((href, len(self.parts)))

    def handle_startendtag(self, tag, attrs):
        if tag.lower() in self.SKIP:
            return
        self.handle_starttag(tag, attrs)
        if tag.lower() not in ("br", "hr", "img", "meta", "link", "input", "wbr"):
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        tag = tag.lower()
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
            return
        if tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self._break(2 if not self.lists else 1)
            return
        if tag == "blockquote":
            self.quote = max(0, self.quote - 1)
            self._break(2)
            return
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
        if tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.parts[start:]).strip()
            url = _link_target(href)
            if url and label and not _same_link(label, url):
                self.space = True
                self._emit(f"({url})")
            return
        if tag in self.PARAGRAPH:
            self._break(2)
        elif tag in self.LINE or tag == "li":
            self._break(1)

    def handle_data(self, data):
        if self.skip or not data:
            return
        if self.pre:
            lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            for i, line in enumerate(lines):
                if i:
                    self.parts.append("\n")
                    self.at_line_start = True
                if line:
                    self._emit(line.replace("\u00a0", " "))
            return
        s = _WS.sub(" ", data)
        if s.startswith(" "):
            self.space = True
            s = s[1:]
        trailing = s.endswith(" ")
        s = s.rstrip(" ")
        if s:
            self._emit(s)
        if trailing:
            self.space = True

    def text(self) -> str:
        return "".join(self.parts)


def _link_target(href: str | None) -> str | None:
    if not href:
        return None
    href = html.unescape(href).strip()
    low = href.lower()
    if low.startswith(("#", "javascript:", "data:", "cid:", "vbscript:", "about:")):
        return None
    try:  # unwrap Outlook Safe Links
        parts = urlsplit(href)
        if parts.hostname and parts.hostname.endswith("safelinks.protection.outlook.com"):
            target = parse_qs(parts.query).get("url")
            if target:
                href = target[0]
    except Exception:  # noqa: BLE001
        pass
    return href


def _same_link(label: str, url: str) -> bool:
    a = _fold(label).lower().rstrip("/")
    b = url.lower().rstrip("/")
    for scheme in ("mailto:", "tel:", "https://", "http://"):
        if b.startswith(scheme):
            b = b[len(scheme):]
        if a.startswith(scheme):
            a = a[len(scheme):]
    b = b.split("?", 1)[0] if url.lower().startswith("mailto:") else b
    return a == b or a.startswith("www.") and a[4:] == b.removeprefix("www.")


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n").strip()


_TAG_START = re.compile(r"<[A-Za-z/]")
_QUOTED_TAG = re.compile(r"""<[^<>"']*(?:(?:"[^"<]*"|'[^'<]*')[^<>"']*)*>""")


def _sanitize_markup(markup: str) -> str:
    """One linear pass that leaves only complete, self-contained tags: every
    remaining "<" has its ">" before the next "<" and balanced quotes;
    comments, declarations, marked sections and processing instructions are
    dropped; any other "<" becomes "&lt;". HTMLParser (and the fallback) then
    never rescan to the end of the input, which some Python versions do in
    quadratic time on crafted markup."""
    out: list[str] = []
    i, n = 0, len(markup)
    while i < n:
        j = markup.find("<", i)
        if j < 0:
            out.append(markup[i:])
            break
        out.append(markup[i:j])
        if markup.startswith("<!--", j):
            k = markup.find("-->", j + 4)
            if k < 0:  # unclosed comment: a comment up to the end, as browsers do
                break
            i = k + 3
            continue
        nxt = markup.find("<", j + 1)
        m = _QUOTED_TAG.match(markup, j, nxt if nxt >= 0 else n)  # ">" inside quotes does not end a tag
        gt = m.end() - 1 if m else markup.find(">", j + 1, nxt if nxt >= 0 else n)
        if gt < 0:
            out.append("&lt;")
            i = j + 1
            continue
        tag = markup[j:gt + 1]
        if tag.startswith(("<!", "<?")):
            i = gt + 1
            continue
        if not _TAG_START.match(tag):
            out.append("&lt;")
            i = j + 1
            continue
        if tag.count('"') % 2:
            tag = tag.replace('"', "")
        if tag.count("'") % 2:
            tag = tag.replace("'", "")
        out.append(tag)
        i = gt + 1
    return "".join(out)


_FALLBACK_BREAK = re.compile(r"</?(?:br|p|div|tr|li|h[1-6]|table|ul|ol|blockquote)\b", re.I)


def _html_fallback(markup: str) -> str:
    """Tags stripped from sanitized markup (linear): script/style content dropped."""
    out: list[str] = []
    skipping = None
    for piece in re.split(r"(<[^<>]*>)", markup):
        if piece.startswith("<") and piece.endswith(">"):
            name = re.match(r"</?\s*([A-Za-z0-9]*)", piece)
            name = name.group(1).lower() if name else ""
            if skipping:
                if piece.startswith("</") and name == skipping:
                    skipping = None
                continue
            if name in ("script", "style", "title") and not piece.startswith("</"):
                skipping = name
            elif _FALLBACK_BREAK.match(piece):
                out.append("\n")
            else:
                out.append(" ")
        elif not skipping:
            out.append(html.unescape(piece))
    text = "".join(out)
    return "\n".join(" ".join(line.split()) for line in text.split("\n"))


def html_to_text(markup: str, problems: list[str] | None = None) -> str:
    """Readable text from HTML: paragraphs, <br>, lists ("- ", "1. "), links
    as "text (url)", blockquotes as "> " lines; no scripts, styles or
    comments; entities decoded. Never raises."""
    if problems is None:
        problems = []
    if not markup:
        return ""
    try:
        markup = _sanitize_markup(markup)
    except Exception:  # noqa: BLE001
        markup = markup.replace("<", " ")
    try:
        parser = _HTMLToText()
        parser.feed(markup)
        parser.close()
        return _tidy(parser.text())
    except Exception as exc:  # noqa: BLE001 - HTMLParser has raised on odd markup before
        problems.append(f"html could not be parsed ({type(exc).__name__}): tags stripped instead")
        try:
            return _tidy(_html_fallback(markup))
        except Exception:  # noqa: BLE001
            return ""


# --------------------------------------------------------------- body and attachments
_BODY_TEXT_EXCLUDED = {"text/calendar", "text/x-vcalendar", "text/vcard", "text/x-vcard", "text/directory",
                       "text/csv", "text/rfc822-headers", "text/x-vcf", "text/tab-separated-values"}


def _unflow(text: str, delsp: bool) -> str:
    """RFC 3676 format=flowed: join soft-broken lines."""
    out: list[str] = []
    buf: list[str] | None = None
    buf_depth = 0

    def put(depth, pieces):
        content = "".join(pieces)
        out.append((">" * depth + " " + content) if depth else content)

    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]
        flowed = content.endswith(" ") and content != "-- "
        if flowed and delsp:
            content = content[:-1]
        if buf is not None and depth != buf_depth:
            put(buf_depth, buf)
            buf = None
        if buf is None:
            buf, buf_depth = [content], depth
        else:
            buf.append(content)
        if not flowed:
            put(buf_depth, buf)
            buf = None
    if buf is not None:
        put(buf_depth, buf)
    return "\n".join(out)


class _Walker:
    """Walks the MIME tree: collects body texts (when wanted) and attachments."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        self.texts: list[str] = []
        self.attachments: list[Attachment] = []

    # helpers
    def _ctype(self, part) -> str:
        try:
            return (part.get_content_type() or "text/plain").lower()
        except Exception:  # noqa: BLE001
            return "text/plain"

    def _param(self, part, name, header="content-type"):
        try:
            value = part.get_param(name, header=header)
        except Exception:  # noqa: BLE001
            return None
        if isinstance(value, tuple):
            try:
                value = email.utils.collapse_rfc2231_value(value)
            except Exception:  # noqa: BLE001
                value = value[2] if len(value) > 2 else None
        return value if isinstance(value, str) else None

    def _disposition(self, part) -> str | None:
        try:
            return part.get_content_disposition()
        except Exception:  # noqa: BLE001
            return None

    def _filename(self, part) -> str | None:
        try:
            name = part.get_filename()
        except Exception:  # noqa: BLE001
            name = None
        if name is None:
            for pname, header in (("filename", "content-disposition"), ("name", "content-type")):
                name = self._param(part, pname, header)
                if name:
                    break
        if not name:
            return None
        try:
            name = _fold(decode_header_text(name, self.problems, "filename"))
        except Exception:  # noqa: BLE001
            name = str(name)
        name = re.split(r"[\\/]", name)[-1].strip()  # no directories from the sender
        name = _clean("".join(ch for ch in name if ch >= " " and ch != "\x7f"))
        if not name or name in (".", ".."):
            return None
        if len(name) > _MAX_FILENAME:
            stem, dot, ext = name.rpartition(".")
            ext = ext if dot and len(ext) <= 16 else ""
            name = name[: _MAX_FILENAME - len(ext) - 1] + "." + ext if ext else name[:_MAX_FILENAME]
        return name

    def _payload_bytes(self, part) -> bytes:
        try:
            data = part.get_payload(decode=True)
        except Exception as exc:  # noqa: BLE001
            self.problems.append(f"payload could not be decoded ({type(exc).__name__}): kept as sent")
            data = None
            try:
                payload = part.get_payload()
                if isinstance(payload, str):
                    data = payload.encode("utf-8", "surrogateescape")
            except Exception:  # noqa: BLE001
                pass
        if isinstance(data, bytes):
            return data
        return self._serialized_body(part)

    def _serialized_body(self, part) -> bytes:
        try:
            raw = part.as_bytes(policy=email.policy.compat32)
        except Exception:  # noqa: BLE001
            try:
                raw = part.as_bytes()
            except Exception:  # noqa: BLE001
                return b""
        m = re.search(rb"\r?\n\r?\n", raw)
        return raw[m.end():] if m else b""

    def _add_attachment(self, part, ctype: str, data: bytes | None = None):
        if data is None:
            data = self._payload_bytes(part)
        filename = self._filename(part)
        self.attachments.append(Attachment(filename=filename, content_type=ctype[:_MAX_CONTENT_TYPE],
                                           size=len(data), data=data))

    def _text_of(self, part, ctype: str) -> str:
        data = self._payload_bytes(part)
        try:
            charset = part.get_content_charset()
        except Exception:  # noqa: BLE001
            charset = self._param(part, "charset")
        if ctype == "text/html":
            if not charset:
                m = re.search(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([A-Za-z0-9._:-]+)", data[:4096], re.I)
                if m:
                    charset = m.group(1).decode("ascii", "replace")
            text = decode_bytes(data, charset, self.problems, ctype)
            return html_to_text(text.lstrip("\ufeff"), self.problems)
        text = decode_bytes(data, charset, self.problems, ctype).lstrip("\ufeff")
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if (self._param(part, "format") or "").lower() == "flowed":
            try:
                text = _unflow(text, (self._param(part, "delsp") or "").lower() == "yes")
            except Exception:  # noqa: BLE001
                pass
        if ctype == "text/enriched":
            text = re.sub(r"<<", "<", re.sub(r"<(?!<)[^>]*>", "", text))
        return text

    # the walk
    def walk(self, part, want_text: bool, depth: int = 0):
        if depth > _MAX_DEPTH:
            self.problems.append("MIME nesting too deep: deeper parts not read (the raw message is kept)")
            return
        ctype = self._ctype(part)
        maintype = ctype.split("/", 1)[0]
        try:
            payload = part.get_payload()
        except Exception:  # noqa: BLE001
            payload = None
        if isinstance(payload, list):
            subparts = [p for p in payload if isinstance(p, email.message.Message)]
            if maintype == "message":
                if ctype in ("message/rfc822", "message/global", "message/news") and subparts:
                    inner = subparts[0]
                    cte = (_first_header(part, "content-transfer-encoding") or "").strip().lower()
                    if cte in ("base64", "quoted-printable"):  # not allowed, but sent: decode, then parse
                        self.problems.append(f"{ctype} with {cte} transfer encoding")
                        inner = self._parse_encoded_inner(part, cte) or inner
                    self._forwarded(part, inner, want_text, depth)
                else:  # message/delivery-status, disposition-notification, ...
                    self._add_attachment(part, ctype, self._serialized_body(part))
                return
            if ctype == "multipart/alternative":
                self._alternative(subparts, want_text, depth)
            else:
                for sub in subparts:
                    self.walk(sub, want_text, depth + 1)
            return
        if maintype == "multipart":
            self.problems.append(f"{ctype} without usable boundary: body read as text")
            if want_text:
                self.texts.append(self._text_of(part, "text/plain"))
            return
        if maintype == "message" and ctype in ("message/rfc822", "message/global"):
            # payload not parsed as a message (e.g. base64-encoded message/rfc822)
            inner = self._parse_inner(part)
            if inner is not None:
                self._forwarded(part, inner, want_text, depth)
                return
        disposition = self._disposition(part)
        filename = self._filename(part)
        is_body = (maintype == "text" and ctype not in _BODY_TEXT_EXCLUDED
                   and disposition != "attachment" and not filename)
        if is_body:
            if want_text:
                self.texts.append(self._text_of(part, ctype))
            return
        self._add_attachment(part, ctype)

    def _parse_encoded_inner(self, part, cte: str):
        body = self._serialized_body(part)
        try:
            data = binascii.a2b_base64(body) if cte == "base64" else binascii.a2b_qp(body)
            return BytesParser(policy=email.policy.default).parsebytes(data)
        except Exception:  # noqa: BLE001
            return None

    def _parse_inner(self, part):
        data = self._payload_bytes(part)
        if not data:
            return None
        try:
            return BytesParser(policy=email.policy.default).parsebytes(data)
        except Exception:  # noqa: BLE001
            return None

    def _alternative(self, subparts, want_text: bool, depth: int):
        if not want_text or not subparts:
            for sub in subparts:
                self.walk(sub, False, depth + 1)
            return
        kinds = [self._first_text_type(sub, depth + 1) for sub in subparts]
        order = ([i for i, k in enumerate(kinds) if k == "text/plain"]
                 + [i for i, k in reversed(list(enumerate(kinds))) if k == "text/html"]
                 + [i for i, k in reversed(list(enumerate(kinds))) if k not in ("text/plain", "text/html")])
        chosen, scratch = None, None
        for i in order:
            trial = _Walker([])
            trial.walk(subparts[i], True, depth + 1)
            if chosen is None:
                chosen, scratch = i, trial
            if any(t.strip() for t in trial.texts):
                chosen, scratch = i, trial
                break
        if scratch is not None:
            self.texts.extend(scratch.texts)
            self.attachments.extend(scratch.attachments)
            self.problems.extend(scratch.problems)
        for i, sub in enumerate(subparts):
            if i != chosen:
                self.walk(sub, False, depth + 1)

    def _first_text_type(self, part, depth: int) -> str | None:
        if depth > _MAX_DEPTH:
            return None
        ctype = self._ctype(part)
        try:
            payload = part.get_payload()
        except Exception:  # noqa: BLE001
            return None
        if isinstance(payload, list):
            if ctype.startswith("message/"):
                return "message"
            for sub in payload:
                if isinstance(sub, email.message.Message):
                    kind = self._first_text_type(sub, depth + 1)
                    if kind:
                        return kind
            return None
        if ctype.startswith("text/") and ctype not in _BODY_TEXT_EXCLUDED \
                and self._disposition(part) != "attachment" and not self._filename(part):
            return ctype
        return None

    def _forwarded(self, part, inner, want_text: bool, depth: int):
        saved = self.texts
        self.texts = []
        try:
            self.walk(inner, want_text, depth + 1)
        finally:
            inner_texts, self.texts = self.texts, saved
        if not want_text:
            return
        lines = [FORWARD_MARKER]
        for label, name in (("Van", "from"), ("Datum", "date"), ("Onderwerp", "subject")):
            value = _fold(decode_header_text(_first_header(inner, name) or "", self.problems, name))
            if value:
                lines.append(f"{label}: {value}")
        body = "\n\n".join(t.strip("\n") for t in inner_texts if t.strip())
        self.texts.append("\n".join(lines) + "\n\n" + body)


# --------------------------------------------------------------- parse_email
def _as_bytes(raw, problems: list[str]) -> bytes:
    if isinstance(raw, bytes):
        return raw
    if isinstance(raw, (bytearray, memoryview)):
        return bytes(raw)
    if isinstance(raw, str):
        problems.append("input was text, not bytes: encoded as utf-8")
        return raw.encode("utf-8", "surrogateescape")
    problems.append(f"input was {type(raw).__name__}, not bytes: read as empty")
    return b""


def _sha_id(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _defects(msg, problems: list[str]):
    try:
        parts = list(msg.walk())
    except Exception:  # noqa: BLE001
        parts = [msg]
    for part in parts:
        try:
            for defect in getattr(part, "defects", []) or []:
                problems.append(f"defect: {type(defect).__name__}")
        except Exception:  # noqa: BLE001
            pass


def _plain_fallback(raw: bytes) -> str:
    m = re.search(rb"\r?\n\r?\n", raw)
    body = raw[m.end():] if m else raw
    return _utf8_lenient(body).replace("\r\n", "\n").replace("\r", "\n")


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def parse_email(raw: bytes, envelope_from: str | None = None, return_path: str | None = None) -> InboundMessage:
    """Parse raw RFC 5322 bytes into an InboundMessage. Never raises.

    ``envelope_from``: the SMTP MAIL FROM when known ("" or "<>" for a
    bounce); ``return_path``: the Return-Path the IMAP server reports, when
    known. Both only feed ``auto_reply``.
    """
    problems: list[str] = []
    data = b""
    try:
        data = _as_bytes(raw, problems)
        return _parse(data, envelope_from, return_path, problems)
    except BaseException as exc:  # noqa: BLE001 - last resort: RecursionError, MemoryError, ...
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        problems.append(f"message could not be parsed ({type(exc).__name__}): kept raw, read as plain text")
        try:
            text = _clean(_plain_fallback(data))
        except Exception:  # noqa: BLE001
            text = ""
        return InboundMessage(channel="email", channel_message_id=_sha_id(data), sender=None, sender_name=None,
                              to=[], subject="", text=text, in_reply_to=None, references=[],
                              auto_reply=("bounce" if _is_null_path(envelope_from) or _is_null_path(return_path)
                                          else None),
                              attachments=[], raw=data, date=None, problems=_dedupe(problems))


def _parse(data: bytes, envelope_from, return_path, problems: list[str]) -> InboundMessage:
    if not data.strip():
        problems.append("empty message")
    msg = None
    try:
        msg = BytesParser(policy=email.policy.default).parsebytes(data)
    except Exception as exc:  # noqa: BLE001 - e.g. RecursionError on absurdly deep MIME nesting
        problems.append(f"MIME structure could not be parsed ({type(exc).__name__}): body read as plain text")
        try:  # the headers still tell sender, subject, threading and auto-reply
            msg = BytesParser(policy=email.policy.default).parsebytes(data, headersonly=True)
        except Exception:  # noqa: BLE001
            msg = None

    if msg is None:
        msg = email.message.EmailMessage()
        texts, attachments = [_plain_fallback(data)], []
    else:
        walker = _Walker(problems)
        try:
            walker.walk(msg, True)
        except Exception as exc:  # noqa: BLE001
            problems.append(f"body could not be read completely ({type(exc).__name__})")
            if not walker.texts:
                walker.texts.append(_plain_fallback(data))
        texts, attachments = walker.texts, walker.attachments

    text = _clean(_tidy("\n\n".join(t.strip("\n") for t in texts if t and t.strip())))

    # Message-ID
    ids = []
    try:
        ids = _msg_ids(_fix_8bit(_first_header(msg, "message-id") or "", problems, "message-id"))
    except Exception:  # noqa: BLE001
        pass
    if ids:
        message_id = ids[0]
    else:
        message_id = _sha_id(data)
        if data.strip():
            problems.append("no Message-ID: sha256 of the raw bytes used")

    # addresses
    sender = sender_name = None
    try:
        from_value = _first_header(msg, "from")
        pairs = _addresses(from_value, problems, "from")
        for name, addr in pairs:
            if addr:
                sender, sender_name = addr, name
                break
        else:
            if pairs:
                sender_name = pairs[0][0]
        if sender is None and from_value:
            problems.append("From address not usable")
    except Exception as exc:  # noqa: BLE001
        problems.append(f"From could not be read ({type(exc).__name__})")
    if sender_name:
        sender_name = _clean(sender_name.strip().strip('"').strip())[:_MAX_NAME] or None

    to: list[str] = []
    for name in ("to", "cc"):
        try:
            for value in _raw_header_values(msg, name):
                to.extend(addr for _, addr in _addresses(value, problems, name) if addr)
        except Exception as exc:  # noqa: BLE001
            problems.append(f"{name} could not be read ({type(exc).__name__})")
    to = [_clean(a) for a in _dedupe(to)]

    # subject
    subject = ""
    try:
        subject = _clean(_fold(decode_header_text(_first_header(msg, "subject") or "", problems, "subject")))
    except Exception as exc:  # noqa: BLE001
        problems.append(f"Subject could not be read ({type(exc).__name__})")

    # threading
    in_reply_to, references = None, []
    try:
        irt = _msg_ids(_fix_8bit(_first_header(msg, "in-reply-to") or "", problems, "in-reply-to"))
        in_reply_to = irt[0] if irt else None
        refs: list[str] = []
        for value in _raw_header_values(msg, "references"):
            refs.extend(_msg_ids(_fix_8bit(value, problems, "references")))
        references = _dedupe(refs)
    except Exception as exc:  # noqa: BLE001
        problems.append(f"In-Reply-To/References could not be read ({type(exc).__name__})")

    # date
    date = None
    date_value = _first_header(msg, "date")
    if date_value:
        try:
            date = email.utils.parsedate_to_datetime(_fix_8bit(date_value, problems, "date").strip())
            if date is not None and date.tzinfo is None:
                date = date.replace(tzinfo=timezone.utc)
        except Exception:  # noqa: BLE001
            date = None
        if date is None:
            problems.append("Date header not parseable")

    auto = _auto_reply(msg, envelope_from, return_path, problems)
    _defects(msg, problems)

    return InboundMessage(channel="email", channel_message_id=_clean(message_id), sender=sender,
                          sender_name=sender_name, to=to, subject=subject, text=text,
                          in_reply_to=in_reply_to, references=references, auto_reply=auto,
                          attachments=attachments, raw=data, date=date, problems=_dedupe(problems))
