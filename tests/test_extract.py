import pytest

from triage.config import load_municipality
from triage.extract import Extractor, bsn_valid, normalize_phone, parse_date
from triage.normalize import normalize


@pytest.fixture(scope="module")
def ex():
    return Extractor(load_municipality())


def extract(ex, text, channel="email", aanmelder="inwoner"):
    return ex.extract(normalize(text), channel, aanmelder=aanmelder)


def test_bsn_eleven_test():
    assert bsn_valid("111222333")
    assert not bsn_valid("111222334")
    assert not bsn_valid("000000000")


@pytest.mark.parametrize("raw,want", [
    ("06-12345678", "0612345678"), ("06 1234 5678", "0612345678"), ("+31 6 12345678", "0612345678"),
    ("+31 (0)6-12 34 56 78", "0612345678"), ("0031612345678", "0612345678"), ("0223-612345", "0223612345"),
    ("0800-0113", None), ("12345", None),
])
def test_phone_forms(raw, want):
    assert normalize_phone(raw) == want


@pytest.mark.parametrize("raw,want", [
    ("12-3-1980", "1980-03-12"), ("12/03/80", "1980-03-12"), ("12 maart 1980", "1980-03-12"),
    ("March 12, 1985", "1985-03-12"), ("2nd of May 1945", "1945-05-02"), ("31-02-1980", None),
])
def test_dates(raw, want):
    assert parse_date(raw) == want


def test_full_mail_signature(ex):
    text = ("Ik wil bijstand aanvragen.\n\nMijn gegevens:\nNaam: Linda Mulder\nGeboortedatum: 22-09-1976\n"
            "BSN: 111222333\nAdres: Van Galenstraat 9, 1781 hp Den Helder\nTelefoon: +31 6 30719284\n"
            "E-mail: Linda.Mulder@Example.NL\n\nMet vriendelijke groet,\nLinda Mulder")
    out = extract(ex, text)
    f = out.fields
    assert f["naam"] == "Linda Mulder"
    assert f["geboortedatum"] == "1976-09-22"
    assert f["bsn"] == "111222333"
    assert f["telefoon"] == "0630719284"
    assert f["email"] == "linda.mulder@example.nl"
    assert f["straat_huisnummer"] == "Van Galenstraat 9"
    assert f["postcode"] == "1781 HP"
    assert f["woonplaats"] == "Den Helder"
    assert f["aanmelder"] == "inwoner"
    # every value carries its evidence
    for key in ("naam", "telefoon", "postcode", "bsn"):
        ev = out.evidence[key]
        assert ev["text"] and ev["part"] in {"body", "signature"}


def test_bsn_failing_the_eleven_test_is_not_extracted(ex):
    assert "bsn" not in extract(ex, "Mijn bsn is 111222334, bel me op 0612345678.").fields


def test_phone_note_title_and_agent_name(ex):
    out = extract(ex, "Mw. de Vries belt ivm huishoudelijke hulp. Tel 0223-614527.\ngr. Sandra KCC", channel="phone")
    assert out.fields["naam"] == "de Vries"
    assert out.fields["telefoon"] == "0223614527"


def test_partner_details_are_not_the_residents(ex):
    text = ("Hierbij meld ik namens Huisartsenpraktijk Julianadorp mevrouw S. Kaya aan. Zij gaat akkoord met "
            "aanmelding.\n\nMet vriendelijke groet,\nDr. P. Jansen\nHuisartsenpraktijk Julianadorp\n0223-641234")
    out = extract(ex, text, channel="partner", aanmelder="partner")
    assert out.fields["naam"] == "S. Kaya"
    assert "telefoon" not in out.fields
    assert out.fields["aanmelder"] == "partner"
    assert out.fields["aanmelder_organisatie"].startswith("Huisartsenpraktijk Julianadorp")
    assert out.consent == "ja"


@pytest.mark.parametrize("text,want", [
    ("Cliënt is op de hoogte van deze melding.", "onbekend"),
    ("Mevrouw weet van deze melding.", "onbekend"),
    ("Ik ga akkoord dat mijn gegevens gedeeld worden met het wijkteam.", "ja"),
    ("Ik wil niet dat er informatie naar school gaat of gedeeld wordt.", "nee"),
    ("Moeten de ouders daar toestemming voor geven?", "onbekend"),
    ("Ik heb schulden en wil hulp.", "onbekend"),
])
def test_consent_only_from_words(ex, text, want):
    assert extract(ex, text).consent == want


def test_municipality_numbers_are_not_the_residents(ex):
    out = extract(ex, "Ik belde 14 0223 en mailde sociaalwijkteam@denhelder.nl, en 0800-0113.")
    assert "telefoon" not in out.fields and "email" not in out.fields


def test_kinderen_and_relative_name(ex):
    assert extract(ex, "Mijn zoon van 8 heeft woedebuien.").fields.get("kinderen") is True
    assert "kinderen" not in extract(ex, "Ik ben zwanger van mijn eerste kindje.").fields
    out = extract(ex, "Ik schrijf u over mijn moeder, Ria Bos (81), die alleen woont.", aanmelder="naaste")
    assert out.fields["naam"] == "Ria Bos" and out.fields["aanmelder"] == "naaste"
