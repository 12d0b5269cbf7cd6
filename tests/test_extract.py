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


# ----------------------------------------------------------- phone numbers
@pytest.mark.parametrize("raw,want", [
    ("0223 - 61 48 09", "0223614809"), ("(0223) 61 48 09", "0223614809"), ("06/12345678", "0612345678"),
    ("06.40.11.83.26", "0640118326"), ("+316 1234 5678", "0612345678"), ("0031 6 12 34 56 78", "0612345678"),
    ("+31 (0)223 61 48 09", "0223614809"), ("0900-1234567", None), ("088 - 633 00 00", None),
])
def test_more_phone_forms(raw, want):
    assert normalize_phone(raw) == want


@pytest.mark.parametrize("line,want", [
    ("Tel: 0223 - 63 01 14", "0223630114"),
    ("Bel me op (0223) 61 48 09 na vijf uur.", "0223614809"),
    ("Mobiel: 06.40.11.83.26", "0640118326"),
    ("Mijn nummer is +31 (0)6 - 2094 1187.", "0620941187"),
    ("telefoon 06 - 183 20 447", "0618320447"),
])
def test_phone_forms_found_in_text(ex, line, want):
    out = extract(ex, "Ik wil graag hulp bij mijn administratie.\n" + line)
    assert out.fields.get("telefoon") == want
    assert out.evidence["telefoon"]["text"]  # the words it came from


def test_a_date_is_no_phone_number(ex):
    out = extract(ex, "Geboren 02-11-1993\n06 12 34 56 78 is mijn nummer")
    assert out.fields["telefoon"] == "0612345678"
    assert out.fields["geboortedatum"] == "1993-11-02"


def test_corrected_phone_number_in_a_note(ex):
    out = extract(ex, "Mw. Ilse Smeets, tel 06-10101010? (mw. corrigeert: 06-10101212).", channel="phone")
    assert out.fields["telefoon"] == "0610101212"


def test_whose_number(ex):
    # a relative writes about an adult: the writer's own number is not the resident's ...
    out = extract(ex, "Mijn moeder (81) woont alleen en redt het niet meer.\n\nBel mij: 06 12 34 56 78\n\nGroet,\nAnja",
                  aanmelder="naaste")
    assert "telefoon" not in out.fields
    # ... the resident's number is
    out = extract(ex, "Mijn vader Kees Bos (83) kan niet meer alleen douchen. Zijn nummer is 0223-612345. "
                      "Mijn nummer is 06-11223344.", aanmelder="naaste")
    assert out.fields["telefoon"] == "0223612345"
    assert out.fields["naam"] == "Kees Bos"
    # a resident's phone note naming someone else's number
    out = extract(ex, "Dhr. Jansen belt, wil hulp bij schulden. Tel. buurvrouw 06 11 22 33 44.", channel="phone")
    assert "telefoon" not in out.fields
    # a partner's own number under the signature is never the resident's
    text = ("Graag meld ik mevrouw Bakker aan. Zij gaat akkoord met aanmelding. Haar nummer: 06 55 44 33 22.\n\n"
            "Met vriendelijke groet,\nP. de Vries\nWijkverpleegkundige Omring\n06 99 88 77 66")
    out = extract(ex, text, channel="partner", aanmelder="partner")
    assert out.fields["telefoon"] == "0655443322"
    assert out.fields["aanmelder_organisatie"] == "Omring"


# ------------------------------------------------------------------- BSN
@pytest.mark.parametrize("written", ["111222333", "111 222 333", "1112.22.333", "BSN: 11 12 22 333"])
def test_bsn_written_forms_pass_the_eleven_test(ex, written):
    assert extract(ex, f"Mijn BSN is {written}. Ik wil bijstand aanvragen.").fields.get("bsn") == "111222333"


@pytest.mark.parametrize("written", ["111 222 334", "123456789", "1112.22.334"])
def test_bsn_failing_the_eleven_test_in_any_form(ex, written):
    assert not bsn_valid(written.replace(" ", "").replace(".", ""))
    assert "bsn" not in extract(ex, f"Mijn BSN is {written}. Ik wil bijstand aanvragen.").fields


# ----------------------------------------------------------------- e-mail
@pytest.mark.parametrize("written,want", [
    ("Mail: Jan.deVries@Ziggo.NL", "jan.devries@ziggo.nl"),
    ("mail mij op jan.devries at ziggo punt nl", "jan.devries@ziggo.nl"),
    ("mijn mail: jan (at) gmail (dot) com", "jan@gmail.com"),
])
def test_email_forms(ex, written, want):
    assert extract(ex, f"Ik heb een vraag over de bijstand. {written}").fields.get("email") == want


def test_english_at_is_no_email(ex):
    assert "email" not in extract(ex, "I am at home most days, my son is at school dot nine.").fields


def test_email_of_the_resident_in_a_forwarded_mail(ex):
    text = ("Ik stuur u hieronder een brief door die ik vandaag kreeg. Ik kan dit niet betalen, wat moet ik hiermee?"
            "\n\nGroet, Hans\n\n---------- Doorgestuurd bericht ---------\n"
            "Van: Incasso Noord B.V. <noreply@incassonoord.nl>\nDatum: 9 november\nAan: hansbos@ziggo.nl\n"
            "Onderwerp: Aanmaning\n\nBeste heer Bos, u heeft een achterstand van 300 euro en wij gaan beslag leggen.")
    assert extract(ex, text).fields.get("email") == "hansbos@ziggo.nl"


# --------------------------------------------------------------- consent
@pytest.mark.parametrize("text,want", [
    ("Mag het wijkteam met mijn huisarts overleggen? Ja, dat mag.", "ja"),
    ("U mag het met het wijkteam bespreken.", "ja"),
    ("Toestemming: ja", "ja"),
    ("toestemming: nee", "nee"),
    ("Akkoord met bespreken in wijkteam.", "ja"),
    ("Mw. gaat akkoord met aanmelding.", "ja"),
    ("Ze vindt het goed dat het wijkteam haar situatie bespreekt.", "ja"),
    ("Hij heeft gezegd dat hij het goed vindt dat jullie met de corporatie praten.", "ja"),
    ("You may discuss my situation in the team.", "ja"),
    ("I agree that you share my details with my GP.", "ja"),
    ("Mrs Holloway has consented to her information being shared with your team.", "ja"),
    # refusals, also partial ones and in English
    ("Liever niet delen met school.", "nee"),
    ("Ik wil niet dat u contact opneemt met mijn werkgever.", "nee"),
    ("Wil uitdrukkelijk niet dat er iets met haar huisarts gedeeld wordt.", "nee"),
    ("Ik ga niet akkoord met het delen van mijn gegevens.", "nee"),
    ("Cliënt geeft geen toestemming voor overleg met de huisarts.", "nee"),
    ("I don't want my information shared with my employer.", "nee"),
    ("We don't agree to our information going outside your team.", "nee"),
    ("She doesn’t consent to us contacting her GP.", "nee"),
    ("She asked us not to share her details with her employer.", "nee"),
    # consent for the wijkteam with one party left out is consent
    ("Ze wil niet dat wij vader informeren, maar gaat wel akkoord met aanmelding bij het wijkteam.", "ja"),
    # no words, or words that are no consent
    ("Mevrouw is op de hoogte van deze melding.", "onbekend"),
    ("Moet ik toestemming geven voordat jullie school bellen?", "onbekend"),
    ("Als ik toestemming geef, wie krijgt dan mijn gegevens?", "onbekend"),
    ("Ik heb nooit toestemming gegeven om iets met hem te delen.", "onbekend"),
    ("Uitgelegd: alleen met toestemming van de inwoner.", "onbekend"),
    ("Ik wil niet dat mijn man weet dat ik gebeld heb.", "onbekend"),
    ("De schuldeiser ging akkoord met een betalingsregeling van 50 euro per maand.", "onbekend"),
    ("Ik vind het goed dat jullie mij bellen.", "onbekend"),
    ("Ik wil bezwaar maken tegen de afwijzing.", "onbekend"),
])
def test_consent_phrasings(ex, text, want):
    out = extract(ex, text)
    assert out.consent == want
    if want != "onbekend":
        assert out.evidence["consent"]["text"]  # read from these words


# ------------------------------------------------------------ names etc.
def test_signature_names(ex):
    out = extract(ex, "Kunnen jullie ons helpen met de huur?\n\nMet vriendelijke groet,\nEsther en Bas van der Meulen\n06 12 34 56 78")
    assert out.fields["naam"] == "Esther en Bas van der Meulen"
    out = extract(ex, "Ik ben Femke, 29, en ik zoek hulp bij mijn geldzaken.\n\nGroet,\nFemke Jansen")
    assert out.fields["naam"] == "Femke Jansen"  # the fullest written form
    out = extract(ex, "Is er een inloopspreekuur in de buurt? Groet, Lex")
    assert out.fields["naam"] == "Lex"


def test_partner_names_parent_of_child_and_organisation(ex):
    text = ("Beste collega's,\n\nWij maken ons zorgen om Noah (9) uit groep 6. Moeder, mevrouw Linda van der Veen, "
            "is akkoord met deze aanmelding.\n\nMet vriendelijke groet,\nA. Smit\nintern begeleider, basisschool 't Koraal")
    out = extract(ex, text, channel="partner", aanmelder="partner")
    assert out.fields["naam"] == "Linda van der Veen"
    assert out.fields["aanmelder_organisatie"] == "basisschool 't Koraal"
    assert out.consent == "ja"


def test_addresses_and_places(ex):
    out = extract(ex, "Mijn moeder, Truus Mulder (81), woont aan de Kanaalweg 112 in Den Helder.", aanmelder="naaste")
    f = out.fields
    assert f["naam"] == "Truus Mulder" and f["straat_huisnummer"] == "Kanaalweg 112" and f["woonplaats"] == "Den Helder"
    out = extract(ex, "Ik heb hulp nodig.\n\nGreet Koopmans\nZandloper 64, Julianadorp")
    assert out.fields["straat_huisnummer"] == "Zandloper 64" and out.fields["woonplaats"] == "Julianadorp"
    # a part of town and a visit are no woonplaats; a year is no house number
    assert "woonplaats" not in extract(ex, "Wij wonen in Nieuw Den Helder en zoeken een groter huis.").fields
    assert "woonplaats" not in extract(ex, "Is er een bus vanaf de Jumbo naar Julianadorp?").fields
    assert "straat_huisnummer" not in extract(ex, "Hij is veteraan (Uruzgan 2007) en slaapt slecht.").fields


def test_evidence_points_at_the_words(ex):
    text = ("Goedemiddag,\n\nMw. de Vries belt namens niemand, ze vraagt zelf hulp. Zij is akkoord met bespreken in het "
            "wijkteam.\nAdres: Kanaalweg 12, 1781 AB Den Helder. Tel. 0223 - 61 48 09.\n\nMet vriendelijke groet,\nKCC")
    nm = normalize(text)
    out = ex.extract(nm, "phone", aanmelder="inwoner")
    parts = {"body": nm.body, "signature": nm.signature}
    assert {"naam", "telefoon", "straat_huisnummer", "postcode", "woonplaats"} <= set(out.fields)
    for key in ("naam", "telefoon", "straat_huisnummer", "postcode", "woonplaats", "consent"):
        ev = out.evidence[key]
        assert parts[ev["part"]][ev["start"]:ev["end"]] == ev["text"]
