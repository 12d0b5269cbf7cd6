"""channels.mime: raw e-mail bytes to InboundMessage, and auto-reply detection.

Real messages only, no mocks: CPython's own e-mail test corpus, hand-written
raw messages as mail clients and servers send them, and broken input.
"""

import base64
import hashlib
import random
import sysconfig
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, message_from_string
from pathlib import Path

import pytest

from channels.mime import (FORWARD_MARKER, Attachment, InboundMessage, auto_reply_reason, html_to_text,
                           parse_email)


def raw(text: str, charset: str = "utf-8") -> bytes:
    """A message written with \\n line ends, sent with CRLF."""
    return text.lstrip("\n").replace("\n", "\r\n").encode(charset)


def check_invariants(m: InboundMessage, data: bytes):
    assert isinstance(m, InboundMessage)
    assert m.channel == "email"
    assert isinstance(m.channel_message_id, str) and m.channel_message_id
    assert m.raw == data
    assert isinstance(m.text, str) and isinstance(m.subject, str)
    assert m.sender is None or (m.sender == m.sender.lower() and "@" in m.sender)
    assert all(isinstance(a, str) and a == a.lower() for a in m.to)
    assert m.date is None or m.date.tzinfo is not None
    assert all(isinstance(p, str) for p in m.problems)
    assert all(isinstance(r, str) for r in m.references)
    for a in m.attachments:
        assert isinstance(a, Attachment) and isinstance(a.data, bytes) and a.size == len(a.data)
        assert isinstance(a.content_type, str) and "/" in a.content_type
    for s in [m.text, m.subject, m.channel_message_id, m.sender_name or "", *m.to, *m.problems]:
        assert "\x00" not in s
        s.encode("utf-8")  # no lone surrogates: the store can always write it


# ------------------------------------------------------------------ (1) CPython corpus
CORPUS = Path(sysconfig.get_paths()["stdlib"]) / "test" / "test_email" / "data"
CORPUS_FILES = sorted(CORPUS.glob("msg_*.txt"))


@pytest.mark.skipif(not CORPUS_FILES, reason=f"CPython's e-mail test data is not installed in this Python ({CORPUS})")
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_cpython_email_corpus_parses(path):
    data = path.read_bytes()
    m = parse_email(data)
    check_invariants(m, data)
    assert m.channel_message_id == parse_email(data).channel_message_id  # stable


@pytest.mark.skipif(not CORPUS_FILES, reason=f"CPython's e-mail test data is not installed in this Python ({CORPUS})")
def test_cpython_corpus_mutations_never_raise():
    """Truncated, byte-flipped and CR/LF-mangled versions of the corpus."""
    rnd = random.Random(20260101)
    for path in CORPUS_FILES:
        data = path.read_bytes()
        variants = [data[: rnd.randrange(len(data) + 1)] for _ in range(3)]
        flipped = bytearray(data)
        for _ in range(max(1, len(data) // 50)):
            flipped[rnd.randrange(len(data))] = rnd.randrange(256)
        variants += [bytes(flipped), data.replace(b"\n", b"\r"), data.replace(b"\n", b"\r\n\r\n"),
                     data.replace(b":", b"", 3), data.upper()]
        for v in variants:
            check_invariants(parse_email(v), v)


# ------------------------------------------------------------------ (2) body text
def test_multipart_alternative_prefers_text_plain():
    m = parse_email(raw("""
From: "Jan de Vries" <Jan.de.Vries@Example.NL>
To: Sociaal Wijkteam <SociaalWijkteam@denhelder.nl>
Cc: buurvrouw@example.nl, jan.de.vries@example.nl
Subject: Hulp bij administratie
Date: Tue, 3 Nov 2026 14:02:11 +0100
Message-ID: <CAF1234=abc@mail.gmail.com>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="000000000000b1c2"

--000000000000b1c2
Content-Type: text/plain; charset="UTF-8"

Beste wijkteam,

Ik kom er niet meer uit met mijn post en rekeningen.

--000000000000b1c2
Content-Type: text/html; charset="UTF-8"

<div dir="ltr">HTML VERSIE<br></div>

--000000000000b1c2--
"""))
    assert m.text == "Beste wijkteam,\n\nIk kom er niet meer uit met mijn post en rekeningen."
    assert m.sender == "jan.de.vries@example.nl" and m.sender_name == "Jan de Vries"
    assert m.to == ["sociaalwijkteam@denhelder.nl", "buurvrouw@example.nl", "jan.de.vries@example.nl"]
    assert m.channel_message_id == "CAF1234=abc@mail.gmail.com"
    assert m.date == datetime(2026, 11, 3, 14, 2, 11, tzinfo=timezone(timedelta(hours=1)))
    assert m.subject == "Hulp bij administratie"
    assert m.attachments == [] and m.auto_reply is None and m.problems == []


def test_alternative_with_empty_plain_part_falls_back_to_html_and_keeps_related_images():
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100).decode()
    m = parse_email(raw(f"""
From: a@example.nl
Subject: x
Message-ID: <1@x>
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

\u0020
--alt
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: text/html; charset=utf-8

<p>Zie de foto van de schimmel.</p><img src="cid:img1">
--rel
Content-Type: image/png
Content-ID: <img1>
Content-Disposition: inline
Content-Transfer-Encoding: base64

{png}
--rel--
--alt--
"""))
    assert m.text == "Zie de foto van de schimmel."
    assert [(a.filename, a.content_type, a.size) for a in m.attachments] == [(None, "image/png", 108)]


def test_html_only_mail_is_converted_to_readable_text():
    html = """<html><head><title>Bericht</title><style>p {color: red}</style>
<script>alert('x')</script></head><body>
<!--[if mso]><xml><o:OfficeDocumentSettings/></xml><![endif]-->
<p>Beste&nbsp;mevrouw,</p>
<p>Mijn moeder (87) kan de trap niet meer op.<br>Zij woont in de Schooten.</p>
<ul><li>huishoudelijke hulp</li><li>een <b>traplift</b></li></ul>
<ol><li>eerst bellen</li><li>dan langskomen</li></ol>
<p>Zie <a href="https://www.denhelder.nl/wmo">de Wmo-pagina</a> en
<a href="mailto:info@denhelder.nl">info@denhelder.nl</a>. Caf&eacute;, &euml;, &euro;&nbsp;40 &amp; &lt;meer&gt; &#8364;</p>
<blockquote class="gmail_quote">Eerdere vraag</blockquote>
</body></html>"""
    m = parse_email(raw(f"""
From: a@example.nl
Message-ID: <2@x>
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: 8bit

{html}"""))
    assert m.text == (
        "Beste mevrouw,\n\n"
        "Mijn moeder (87) kan de trap niet meer op.\nZij woont in de Schooten.\n\n"
        "- huishoudelijke hulp\n- een traplift\n\n"
        "1. eerst bellen\n2. dan langskomen\n\n"
        "Zie de Wmo-pagina (https://www.denhelder.nl/wmo) en info@denhelder.nl. Café, ë, € 40 & <meer> €\n\n"
        "> Eerdere vraag")
    for gone in ("alert", "color", "Bericht", "OfficeDocumentSettings"):
        assert gone not in m.text


def test_html_to_text_odd_markup_is_linear_and_safe():
    assert html_to_text("<html><head><title>x<body>hallo") == "hallo"
    assert html_to_text("a < b en c > d") == "a < b en c > d"
    assert html_to_text('<a title="a>b" href="https://x.nl/p">link</a>') == "link (https://x.nl/p)"
    assert html_to_text("<![foo]>tekst<!-- open comment") == "tekst"
    for crafted in ("<a " * 200_000, "</" * 200_000, "<!" * 200_000, "<a b='>" * 100_000, "<!--a>" * 100_000):
        assert isinstance(html_to_text(crafted), str)  # each would take minutes without the pre-pass


def test_iso_8859_1_body_with_dutch_characters():
    body = "Ik heb een vraag over de kosten van het café. Mijn dochter Eliëtte is 12 jaar.".encode("latin-1")
    data = (b"From: a@example.nl\r\nMessage-ID: <3@x>\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body)
    m = parse_email(data)
    assert m.text == "Ik heb een vraag over de kosten van het café. Mijn dochter Eliëtte is 12 jaar."
    assert m.problems == []
    qp = parse_email(b"From: a@example.nl\r\nMessage-ID: <3q@x>\r\nContent-Type: text/plain; charset=ISO-8859-1\r\n"
                     b"Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 en Eli=\r\n=EBtte")
    assert qp.text == "Café en Eliëtte"


def test_windows_1252_body_also_when_labelled_iso_8859_1():
    body = "De huur is \u20ac 850 \u2013 \u201ete hoog\u201d voor mij. Groet, Ren\u00e9e".encode("cp1252")
    for label in (b"windows-1252", b"iso-8859-1", b"latin1"):
        m = parse_email(b"From: a@example.nl\r\nMessage-ID: <4@x>\r\nContent-Type: text/plain; charset=" + label
                        + b"\r\n\r\n" + body)
        assert m.text == "De huur is € 850 – „te hoog” voor mij. Groet, Renée", label


def test_unknown_missing_and_wrong_charsets_never_raise():
    utf8 = "Beste, één vraag over €".encode()
    latin = "Beste, één vraag".encode("latin-1")
    head = b"From: a@example.nl\r\nMessage-ID: <5@x>\r\nContent-Type: text/plain; charset="
    m = parse_email(head + b"x-unknown\r\n\r\n" + utf8)
    assert m.text == "Beste, één vraag over €"
    assert any("unknown charset 'x-unknown'" in p for p in m.problems)
    assert parse_email(head + b"x-unknown\r\n\r\n" + latin).text == "Beste, één vraag"
    bad = parse_email(head + b"utf-8\r\n\r\n" + latin)  # labelled utf-8, is latin-1
    assert bad.text == "Beste, één vraag" and any("invalid utf-8" in p for p in bad.problems)
    mixed = parse_email(head + b"utf-8\r\n\r\n" + utf8 + b" " + latin)
    assert mixed.text == "Beste, één vraag over € Beste, één vraag"
    nolabel = parse_email(b"From: a@example.nl\r\nMessage-ID: <5b@x>\r\n\r\n" + utf8)
    assert nolabel.text == "Beste, één vraag over €"
    for label in (b'"', b"base64", b"undefined", b"unicode_escape", b"idna", b"\xff\xfe", b"utf-8*nl", b"zlib"):
        m = parse_email(head + label + b"\r\n\r\n" + utf8)
        assert m.text == "Beste, één vraag over €", label
    assert parse_email(head + b"gb2312\r\n\r\n" + "你好".encode("gbk")).text == "你好"


def test_encoded_word_subjects_and_names():
    m = parse_email(raw("""
From: =?iso-8859-1?q?Ren=E9e_M=FCller?= <RENEE@example.nl>
To: =?utf-8?b?U29jaWFhbCBXaWprdGVhbQ==?= <wijkteam@denhelder.nl>
Subject: =?utf-8?q?Vraag_over_de_caf=C3=A9?= en =?iso-8859-1?b?RWxp63R0ZQ==?=
 =?utf-8?b?IOKCrCA1MA==?=
Message-ID: <6@x>

tekst
"""))
    assert m.subject == "Vraag over de café en Eliëtte € 50"
    assert m.sender == "renee@example.nl" and m.sender_name == "Renée Müller"
    assert m.to == ["wijkteam@denhelder.nl"]
    # a multi-byte character split over two encoded words (as some clients do)
    split = parse_email(raw("""
Subject: =?UTF-8?B?RWxp?= =?UTF-8?B?w6s=?= =?UTF-8?B?dHRl?=
Message-ID: <7@x>

x
"""))
    assert split.subject == "Eliëtte"
    # raw 8-bit utf-8 and latin-1 in headers (RFC 6532 / broken clients)
    eight = parse_email("Subject: Gr\u00fc\u00dfe en \u00e9\u00e9n\r\nFrom: Ren\u00e9e <r@x.nl>\r\n\r\nx".encode())
    assert eight.subject == "Grüße en één" and eight.sender_name == "Renée"
    latin = parse_email("Subject: caf\u00e9\r\n\r\nx".encode("latin-1"))
    assert latin.subject == "café"
    broken = parse_email(b"Subject: =?utf-8?q?half  =?nope?x?y?= =?utf-8?b?!!!?=\r\n\r\nx")
    assert isinstance(broken.subject, str)


def test_attachment_name_type_size_and_filenames():
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 40
    b64 = base64.encodebytes(pdf).decode()
    m = parse_email(raw(f"""
From: a@example.nl
Message-ID: <8@x>
Subject: beschikking
Content-Type: multipart/mixed; boundary="mix"

--mix
Content-Type: text/plain; charset=utf-8

Hierbij de beschikking.
--mix
Content-Type: application/pdf; name="beschikking.pdf"
Content-Disposition: attachment; filename="beschikking.pdf"
Content-Transfer-Encoding: base64

{b64}
--mix
Content-Type: application/pdf
Content-Disposition: attachment; filename*=utf-8''brief%20gemeente%20%E2%82%AC.pdf
Content-Transfer-Encoding: base64

{b64}
--mix
Content-Type: image/jpeg; name="=?utf-8?q?foto_ke=C3=BBken.jpg?="
Content-Disposition: attachment; filename="=?utf-8?q?foto_ke=C3=BBken.jpg?="
Content-Transfer-Encoding: base64

/9j/4AAQ
--mix
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="C:\\\\Users\\\\jan\\\\Documents\\\\scan.pdf"

data
--mix
Content-Type: text/plain; name="notities.txt"
Content-Disposition: attachment

geen body
--mix--
"""))
    assert m.text == "Hierbij de beschikking."
    got = [(a.filename, a.content_type, a.size) for a in m.attachments]
    assert got == [("beschikking.pdf", "application/pdf", len(pdf)),
                   ("brief gemeente €.pdf", "application/pdf", len(pdf)),
                   ("foto keûken.jpg", "image/jpeg", 6),
                   ("scan.pdf", "application/octet-stream", 4),
                   ("notities.txt", "text/plain", 9)]
    assert m.attachments[0].data == pdf


def test_huge_attachment_is_kept_as_it_is():
    blob = random.Random(3).randbytes(3_000_000)
    data = (b"From: a@example.nl\r\nMessage-ID: <9@x>\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            b"--b\r\nContent-Type: text/plain\r\n\r\nzie bijlage\r\n--b\r\nContent-Type: video/mp4; name=v.mp4\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(blob).replace(b"\n", b"\r\n")
            + b"--b--\r\n")
    m = parse_email(data)
    assert m.text == "zie bijlage"
    assert m.attachments[0].size == 3_000_000 and m.attachments[0].data == blob


def test_forwarded_message_rfc822_is_included_below_the_marker():
    m = parse_email(raw("""
From: Buurtcoach <coach@partner.nl>
To: wijkteam@denhelder.nl
Subject: Fwd: traplift
Message-ID: <10@x>
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: text/plain; charset=utf-8

Zie onderstaande mail.
--outer
Content-Type: message/rfc822
Content-Disposition: attachment; filename="traplift.eml"

From: =?utf-8?q?Jan_J=C3=A1nsen?= <jan@example.nl>
Date: Mon, 9 Nov 2026 10:00:00 +0100
Subject: =?utf-8?q?traplift_aanvragen?=
Message-ID: <inner@example.nl>
Content-Type: multipart/mixed; boundary="inner"

--inner
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Ik kom de trap niet meer op, mijn knie=EBn zijn op.
--inner
Content-Type: application/pdf; name="indicatie.pdf"
Content-Disposition: attachment; filename="indicatie.pdf"

PDF
--inner--
--outer--
"""))
    assert m.text == ("Zie onderstaande mail.\n\n" + FORWARD_MARKER + "\nVan: Jan Jánsen <jan@example.nl>\n"
                      "Datum: Mon, 9 Nov 2026 10:00:00 +0100\nOnderwerp: traplift aanvragen\n\n"
                      "Ik kom de trap niet meer op, mijn knieën zijn op.")
    assert [a.filename for a in m.attachments] == ["indicatie.pdf"]
    assert m.channel_message_id == "10@x" and m.sender == "coach@partner.nl"
    # normalization keeps the forwarded content as the body (new text is almost empty)
    from triage.normalize import normalize
    assert "trap niet meer op" in normalize(m.text, subject=m.subject).body


def test_missing_message_id_gives_a_stable_sha256_id():
    data = raw("From: a@example.nl\nSubject: geen id\n\nhallo\n")
    m1, m2 = parse_email(data), parse_email(data)
    assert m1.channel_message_id == m2.channel_message_id == "sha256:" + hashlib.sha256(data).hexdigest()
    assert parse_email(data + b"!").channel_message_id != m1.channel_message_id
    for empty in (b"Message-ID:\r\n", b"Message-ID: <>\r\n", b"Message-ID:   \r\n"):
        d = empty + data
        assert parse_email(d).channel_message_id == "sha256:" + hashlib.sha256(d).hexdigest()
    assert parse_email(b"Message-Id:  <abc@x.nl>  (comment)\r\n\r\n").channel_message_id == "abc@x.nl"


def test_in_reply_to_and_references():
    m = parse_email(raw("""
From: Jan <jan@example.nl>
Subject: Re: uw aanvraag SWT-2026-000123
Message-ID: <reply-1@example.nl>
In-Reply-To: <out-42@denhelder.nl> (Sociaal Wijkteam's message of Mon, 9 Nov)
References: <first@example.nl>
\t<out-42@denhelder.nl>
 <out-42@denhelder.nl>

Dank u, ik wacht af.

Op ma 9 nov 2026 om 10:00 schreef Sociaal Wijkteam <wijkteam@denhelder.nl>:
> Wij nemen contact met u op.
"""))
    assert m.in_reply_to == "out-42@denhelder.nl"
    assert m.references == ["first@example.nl", "out-42@denhelder.nl"]
    assert "> Wij nemen contact met u op." in m.text  # quoted reply kept; normalization strips it
    assert m.auto_reply is None
    none = parse_email(raw("From: a@b.nl\n\nx"))
    assert none.in_reply_to is None and none.references == []


def test_empty_bytes():
    m = parse_email(b"")
    check_invariants(m, b"")
    assert m.channel_message_id == "sha256:" + hashlib.sha256(b"").hexdigest()
    assert m.text == "" and m.subject == "" and m.sender is None and m.to == [] and m.attachments == []
    assert "empty message" in m.problems


def test_binary_garbage_and_other_input():
    rnd = random.Random(7)
    for data in [rnd.randbytes(20_000), b"\x00" * 5000, b"\xff\xfe" * 3000, bytes(range(256)) * 50,
                 b"\r\n" * 1000, b":" * 1000, b"From:\r\n\r\n", b"Content-Type: multipart/mixed\r\n\r\n--\r\n",
                 b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n--x\r\n",
                 b"Content-Transfer-Encoding: base64\r\n\r\n!!!===abc", b"Date: 99 Foo 99999 99:99\r\n\r\n"]:
        check_invariants(parse_email(data), data)
    assert parse_email(bytearray(b"From: a@b.nl\r\n\r\nx")).sender == "a@b.nl"
    s = parse_email("From: a@b.nl\n\nhé")  # str instead of bytes
    assert s.text == "hé" and s.raw == "From: a@b.nl\n\nhé".encode()
    n = parse_email(None)
    assert n.text == "" and n.channel_message_id.startswith("sha256:")


def test_missing_boundary_and_absurd_nesting_still_give_text():
    m = parse_email(raw("""
From: a@example.nl
Subject: kapot
Content-Type: multipart/mixed

ik heb hulp nodig
"""))
    assert "ik heb hulp nodig" in m.text and m.problems
    deep = b"From: a@example.nl\r\nSubject: diep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
    for i in range(1, 1500):
        deep += b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i - 1, i)
    deep += b"--b1499\r\nContent-Type: text/plain\r\n\r\nhelp\r\n"
    d = parse_email(deep)
    check_invariants(d, deep)
    assert d.sender == "a@example.nl" and d.subject == "diep" and "help" in d.text


def test_dates_and_addresses():
    assert parse_email(b"Date: Tue, 3 Nov 2026 14:02:11 -0000\r\n\r\n").date == \
        datetime(2026, 11, 3, 14, 2, 11, tzinfo=timezone.utc)
    bad = parse_email(b"Date: gisteren\r\n\r\n")
    assert bad.date is None and "Date header not parseable" in bad.problems
    loose = parse_email(b"From: Jan Jansen jan@Example.nl\r\nTo: undisclosed-recipients:;\r\n\r\n")
    assert loose.sender == "jan@example.nl" and loose.to == []
    quoted = parse_email(b'From: "Jansen, J." <J.Jansen@example.nl>\r\nTo: "A" <a@x.nl>, b@x.nl\r\n'
                         b"To: c@x.nl\r\nCc: A@x.nl\r\n\r\n")
    assert quoted.sender_name == "Jansen, J." and quoted.to == ["a@x.nl", "b@x.nl", "c@x.nl"]
    assert parse_email(b"From: nobody\r\n\r\n").sender is None


def test_format_flowed_is_joined():
    m = parse_email(raw("""
From: a@example.nl
Content-Type: text/plain; charset=utf-8; format=flowed

Dit is een lange zin die door de mailer over twee regels is 
verdeeld.
> geciteerde regel die ook 
> doorloopt
"""))
    assert m.text == ("Dit is een lange zin die door de mailer over twee regels is verdeeld.\n"
                      "> geciteerde regel die ook doorloopt")


def test_no_personal_data_in_repr_or_problems():
    m = parse_email(raw("""
From: Anna Geheim <anna.geheim@example.nl>
Subject: =?x-unknown?q?Anna_Geheim?=
Content-Type: text/plain; charset=x-unknown

Mijn BSN is 111222333 en ik heet Anna Geheim.
""", "utf-8"))
    for s in (repr(m), *m.problems):
        assert "Geheim" not in s and "111222333" not in s and "anna" not in s.lower()
    assert "111222333" in m.text


# ------------------------------------------------------------------ (2) automatic messages
AUTOMATIC = {
    "out of office NL (Outlook, subject only)": ("Subject: Automatisch antwoord: uw aanvraag\n", "subject:out-of-office"),
    "out of office EN (subject only)": ("Subject: Automatic reply: your question\n", "subject:out-of-office"),
    "out of office (Out of Office:)": ("Subject: Out of Office: traplift\n", "subject:out-of-office"),
    "afwezig tot": ("Subject: Afwezig tot 5 januari\n", "subject:out-of-office"),
    "afwezig: after Re:": ("Subject: RE: Afwezig: uw vraag\n", "subject:out-of-office"),
    "niet aanwezig": ("Subject: Niet aanwezig\n", "subject:out-of-office"),
    "autoreply after AW:": ("Subject: AW: Autoreply: Anfrage\n", "subject:auto-reply"),
    "[Auto-Reply] tag": ("Subject: [Auto-Reply] uw bericht\n", "subject:auto-reply"),
    "undeliverable": ("Subject: Undeliverable: uw aanvraag\n", "subject:bounce"),
    "delivery status notification": ("Subject: Delivery Status Notification (Failure)\n", "subject:bounce"),
    "mail delivery failed": ("Subject: Mail delivery failed: returning message to sender\n", "subject:bounce"),
    "onbestelbaar": ("Subject: Onbestelbaar: huurachterstand\n", "subject:bounce"),
    "Auto-Submitted: auto-replied": ("Auto-Submitted: auto-replied\n", "auto-submitted"),
    "Auto-Submitted: auto-generated": ("Auto-Submitted: auto-generated; type=vacation\n", "auto-submitted"),
    "Auto-Submitted: auto-notified": ("Auto-Submitted: Auto-Notified\n", "auto-submitted"),
    "X-Autoreply": ("X-Autoreply: yes\n", "x-autoreply"),
    "X-Autorespond": ("X-Autorespond: Afwezigheidsmelding\n", "x-autorespond"),
    "X-Auto-Response-Suppress: All": ("X-Auto-Response-Suppress: All\n", "x-auto-response-suppress"),
    "X-Auto-Response-Suppress: OOF": ("X-Auto-Response-Suppress: DR, OOF, AutoReply\n", "x-auto-response-suppress"),
    "Precedence: bulk": ("Precedence: bulk\n", "precedence:bulk"),
    "Precedence: list": ("Precedence: list\n", "precedence:list"),
    "Precedence: junk": ("Precedence: junk\n", "precedence:junk"),
    "Precedence: auto_reply": ("Precedence: auto_reply\n", "precedence:auto_reply"),
    "mailing list (List-Id)": ("List-Id: Bewonersoverleg <bewoners.lists.example.nl>\n", "list-id"),
    "newsletter (List-Unsubscribe)": ("List-Unsubscribe: <https://news.example.nl/u?id=1>\n", "list-unsubscribe"),
    "empty Return-Path": ("Return-Path: <>\n", "bounce"),
    "MAILER-DAEMON": ("From: Mail Delivery System <MAILER-DAEMON@mx.example.nl>\n", "bounce:mailer-daemon"),
    "MAILER-DAEMON without domain": ("From: MAILER-DAEMON\n", "bounce:mailer-daemon"),
    "postmaster": ("From: postmaster@example.nl\n", "bounce:postmaster"),
    "X-Failed-Recipients": ("X-Failed-Recipients: iemand@example.nl\n", "bounce:x-failed-recipients"),
    "Exchange generated": ("X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent\n", "exchange-generated"),
    "DSN multipart/report": ("Content-Type: multipart/report; report-type=delivery-status; boundary=r\n",
                             "bounce:report"),
}


@pytest.mark.parametrize("headers,reason", AUTOMATIC.values(), ids=AUTOMATIC.keys())
def test_automatic_messages_are_recognised(headers, reason):
    if "From:" not in headers:
        headers = "From: Iemand <iemand@example.nl>\n" + headers
    if "Subject:" not in headers:
        headers += "Subject: uw bericht\n"
    m = parse_email(raw(headers + "Message-ID: <auto@x>\n\nDit is een automatisch bericht.\n"))
    assert m.auto_reply == reason
    assert auto_reply_reason(message_from_bytes(m.raw)) == reason


def test_envelope_null_sender_is_a_bounce():
    data = raw("From: Iemand <iemand@example.nl>\nSubject: vraag\n\nx\n")
    assert parse_email(data).auto_reply is None
    assert parse_email(data, envelope_from="").auto_reply == "bounce"
    assert parse_email(data, envelope_from="<>").auto_reply == "bounce"
    assert parse_email(data, return_path="<>").auto_reply == "bounce"
    assert parse_email(data, envelope_from="MAILER-DAEMON@mx.example.nl").auto_reply == "bounce:mailer-daemon"
    assert parse_email(data, envelope_from="iemand@example.nl", return_path="<iemand@example.nl>").auto_reply is None
    assert auto_reply_reason(message_from_bytes(data), envelope_from="<>") == "bounce"


REALISTIC_AUTOMATIC = {
    "Exchange out of office (NL)": """
Return-Path: <medewerker@partner.nl>
From: Petra Medewerker <medewerker@partner.nl>
To: wijkteam@denhelder.nl
Subject: Automatisch antwoord: Verwijzing gezin Jansen
Thread-Topic: Verwijzing gezin Jansen
Auto-Submitted: auto-generated
X-MS-Exchange-Inbox-Rules-Loop: medewerker@partner.nl
X-Auto-Response-Suppress: All
Message-ID: <oof1@partner.nl>
Content-Type: text/plain; charset=utf-8

Ik ben afwezig tot en met 12 januari. Voor spoed: bel 0223-123456.
""",
    "Gmail vacation responder": """
From: Jan Jansen <jan.jansen@gmail.com>
To: wijkteam@denhelder.nl
Subject: Op vakantie
Auto-Submitted: auto-replied
Precedence: bulk
X-Autoreply: yes
Message-ID: <CAvac@mail.gmail.com>

Ik ben op vakantie.
""",
    "Postfix DSN bounce": """
Return-Path: <>
From: MAILER-DAEMON@mx.denhelder.nl (Mail Delivery System)
To: wijkteam@denhelder.nl
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
Message-ID: <dsn1@mx.denhelder.nl>
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.denhelder.nl. Your message could not be delivered.

--B1
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.denhelder.nl
Final-Recipient: rfc822; bestaatniet@example.nl
Action: failed
Status: 5.1.1

--B1
Content-Type: text/rfc822-headers

From: wijkteam@denhelder.nl
Subject: Uw aanvraag

--B1--
""",
    "Exchange NDR (Onbestelbaar)": """
From: Microsoft Outlook <postmaster@denhelder.onmicrosoft.com>
To: wijkteam@denhelder.nl
Subject: Onbestelbaar: Uw aanvraag
X-MS-Exchange-Generated-Message-Source: Delivery Status Notification
Message-ID: <ndr@x>
Content-Type: text/plain; charset=utf-8

Uw bericht kon niet worden bezorgd.
""",
    "bulk newsletter": """
From: Nieuwsbrief Welzijn <nieuws@welzijn.example.nl>
To: wijkteam@denhelder.nl
Subject: Nieuwsbrief november
List-Unsubscribe: <mailto:unsubscribe@welzijn.example.nl>, <https://welzijn.example.nl/u/1>
List-Unsubscribe-Post: List-Unsubscribe=One-Click
Precedence: bulk
Feedback-ID: 123:campaign:mailer
Message-ID: <news@x>

Nieuws uit de wijk.
""",
}


@pytest.mark.parametrize("text", REALISTIC_AUTOMATIC.values(), ids=REALISTIC_AUTOMATIC.keys())
def test_realistic_automatic_messages(text):
    m = parse_email(raw(text))
    assert m.auto_reply is not None
    check_invariants(m, raw(text))


NORMAL = {
    "first mail": ("Subject: Vraag over huishoudelijke hulp\n", "Mijn moeder kan niet meer zelf schoonmaken."),
    "reply Re: uw aanvraag": ("Subject: Re: uw aanvraag\nIn-Reply-To: <out-1@denhelder.nl>\n", "Dank u wel."),
    "reply AW:/Antw:": ("Subject: Antw: AW: uw aanvraag SWT-2026-000042\n", "Nog een vraag."),
    "Auto-Submitted: no": ("Subject: hulp\nAuto-Submitted: no\n", "Ik heb schulden."),
    "Precedence: normal": ("Subject: hulp\nPrecedence: first-class\n", "Hulp gevraagd."),
    "only read-receipt suppression": ("Subject: hulp\nX-Auto-Response-Suppress: DR, RN, NRN\n", "Graag hulp."),
    "absent from an appointment (human)": ("Subject: Afwezig bij de afspraak van dinsdag\n",
                                           "Sorry, ik was ziek en kon niet komen."),
    "not present (human)": ("Subject: Niet aanwezig geweest, nieuwe afspraak?\n", "Kan het volgende week?"),
    "out of money": ("Subject: Out of money and scared\n", "I can't pay the rent."),
    "resident's own Return-Path": ("Return-Path: <bewoner@example.nl>\nSubject: traplift\n", "Traplift nodig."),
    "no subject": ("", "Bel mij terug aub."),
    "auto in the text only": ("Subject: vraag\n", "Automatisch antwoord: dat wil ik niet, ik wil iemand spreken."),
}


@pytest.mark.parametrize("headers,body", NORMAL.values(), ids=NORMAL.keys())
def test_normal_resident_mail_is_not_automatic(headers, body):
    data = raw("From: Bewoner <bewoner@example.nl>\nTo: wijkteam@denhelder.nl\n" + headers
               + "Message-ID: <n@example.nl>\n\n" + body + "\n")
    m = parse_email(data, envelope_from="bewoner@example.nl")
    assert m.auto_reply is None
    assert auto_reply_reason(message_from_bytes(data), envelope_from="bewoner@example.nl") is None


def test_resident_forwarding_a_bounce_is_not_automatic():
    """The delivery report is inside the forwarded part; the resident's own mail is not automatic."""
    m = parse_email(raw("""
From: Bewoner <bewoner@example.nl>
To: wijkteam@denhelder.nl
Subject: Fwd: Onbestelbaar: mijn aanvraag
Message-ID: <fwdbounce@example.nl>
Content-Type: multipart/mixed; boundary="o"

--o
Content-Type: text/plain; charset=utf-8

Mijn mail kwam niet aan, hoe kan dat?
--o
Content-Type: message/rfc822

From: MAILER-DAEMON@example.nl
Subject: Onbestelbaar: mijn aanvraag
Auto-Submitted: auto-replied
Content-Type: multipart/report; report-type=delivery-status; boundary="r"

--r
Content-Type: text/plain

Delivery failed.
--r--
--o--
"""))
    assert m.auto_reply is None
    assert "Mijn mail kwam niet aan" in m.text and "Delivery failed." in m.text


def test_auto_reply_reason_accepts_any_message_object():
    msg = message_from_string("From: a@b.nl\nPrecedence: bulk\n\nx")  # compat32 policy
    assert auto_reply_reason(msg) == "precedence:bulk"
    assert auto_reply_reason(message_from_string("From: a@b.nl\n\nx")) is None
