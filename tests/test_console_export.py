"""Export of the startformulier: a printable page, a PDF made on the server
and JSON; each only for the role whose queue holds the case, each an audit
event."""

import zlib
from datetime import datetime

import pytest
from sqlmodel import select

from triage.store import Case, Event, Startformulier
from triage.web.export import UNICODE_FONTS, export_data, render_pdf

CRISIS = ("Ik zie het echt niet meer zitten en wil er vanavond een eind aan maken. Ik woon aan de Spoorstraat 12, "
          "1781 AB Den Helder. Mijn telefoon is 0612345678. Groet, Renée Jansen")
MEERVOUDIG = ("Beste wijkteam, wij hebben schulden bij de energie en de zorgverzekering, mijn zoon van 9 gaat al weken "
              "niet naar school en ik voel me somber. Wij wonen op de Middenweg 5, 1782 BC Den Helder. Kunt u ons "
              "helpen? Met vriendelijke groet, Noël de Boer, 0623456789")
INFO = "Wat zijn de openingstijden van het Zorgloket?"


@pytest.fixture
def made(console):
    out = {"crisis": console.mail(CRISIS, sender="renee@example.nl"),
           "meer": console.mail(MEERVOUDIG, sender="noel@example.nl"),
           "info": console.mail(INFO, sender="vraag@example.nl")}
    queues = {k: case(console, n).queue for k, n in out.items()}
    assert queues == {"crisis": "bureaudienst", "meer": "bureaudienst", "info": "kcc"}
    return out


def case(console, number):
    with console.store.session() as s:
        return s.exec(select(Case).where(Case.number == number)).one()


def exports(console, number):
    c = case(console, number)
    with console.store.session() as s:
        return [(e.actor, e.detail) for e in s.exec(select(Event).where(
            Event.case_id == c.id, Event.action == "startformulier_exported").order_by(Event.id))]


def test_print_page_is_a_plain_a4_form(console, made):
    c = console.client("bureaudienst")
    number = made["crisis"]
    r = c.get(f"/zaak/{number}/startformulier")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    for text in ("Gemeente Den Helder", "<h1>Startformulier</h1>", number, "Datum aanmelding", "Afgedrukt op",
                 "Afdrukken / opslaan als PDF", "@page { size: A4", '<th scope="row">Naam</th><td>Renée Jansen</td>',
                 '<th scope="row">Postcode</th><td>1781 AB</td>', '<th scope="row">BSN</th><td class="empty">(niet ingevuld)</td>',
                 "Toestemming om de zaak in het wijkteam te bespreken", "Onbekend (nog niet gevraagd)",
                 "wil er vanavond een eind aan maken", "<td>Crisis</td>", "<td>Centrum</td>",
                 f'href="/bureaudienst/zaak/{number}"', f'href="/zaak/{number}/startformulier.pdf"',
                 "Verstuur het niet per e-mail"):
        assert text in html, text
    assert "Hoofdmenu" not in html and "Uitloggen" not in html  # no navigation on paper
    assert ".hint { display: none; }" in html
    assert exports(console, number) == [("bureaudienst", {"format": "html"})]


def test_pdf_is_a_real_pdf_with_the_form(console, made):
    c = console.client("bureaudienst")
    number = made["meer"]
    r = c.get(f"/zaak/{number}/startformulier.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == f'attachment; filename="startformulier-{number}.pdf"'
    body = r.content
    assert body.startswith(b"%PDF-") and body.rstrip().endswith(b"%%EOF")
    assert f"/Title (Startformulier {number})".encode() in body
    # the page's text, from its compressed content stream
    start = body.index(b"stream", body.index(b"/Filter /FlateDecode")) + len(b"stream\n")
    page = zlib.decompress(body[start:body.index(b"endstream", start)])
    assert number.encode() in page and "(Noël de Boer)".encode("cp1252") in page
    assert b"(1782 BC)" in page and b"(0623456789)" in page and b"(Startformulier)" in page
    assert exports(console, number) == [("bureaudienst", {"format": "pdf"})]


def test_pdf_text_with_accents_and_beyond_windows_1252(console, made):
    data = export_data(console.store, case(console, made["crisis"]))
    data["hulpvraag"] = "Café met crème brûlée; één vraag over geëmigreerde ouders."
    pdf = render_pdf(data, "Den Helder", compress=False)
    assert pdf.startswith(b"%PDF-") and made["crisis"].encode() in pdf
    assert "(Renée Jansen)".encode("cp1252") in pdf and "één vraag over geëmigreerde ouders".encode("cp1252") in pdf
    assert b"/BaseFont /Helvetica" in pdf
    # a name that Windows-1252 cannot hold: DejaVu Sans is embedded (when Debian ships it), else "?"
    data["fields"]["naam"] = "Łukasz Kowalski"
    pdf = render_pdf(data, "Den Helder", compress=False)
    if all(p.exists() for p in UNICODE_FONTS):
        assert b"DejaVuSans" in pdf and b"(?ukasz Kowalski)" not in pdf
    else:
        assert b"(?ukasz Kowalski)" in pdf
    pdf = render_pdf(data, "Den Helder", compress=False, unicode_fonts=(UNICODE_FONTS[0].with_name("nope.ttf"),) * 2)
    assert b"(?ukasz Kowalski)" in pdf and b"DejaVuSans" not in pdf


def test_json_export_uses_the_labeling_guide_names(console, made):
    c = console.client("bureaudienst")
    number = made["crisis"]
    r = c.get(f"/api/cases/{number}/startformulier")
    assert r.status_code == 200 and "content-disposition" not in r.headers
    data = r.json()
    assert data["fields"] == {"naam": "Renée Jansen", "telefoon": "0612345678", "straat_huisnummer": "Spoorstraat 12",
                              "postcode": "1781 AB", "woonplaats": "Den Helder", "aanmelder": "inwoner"}
    stored = case(console, number)
    assert (data["case_number"], data["category"], data["domains"], data["wijk"]) == (
        number, "crisis", stored.domains, "Centrum")
    assert data["consent"] == "onbekend" and "wil er vanavond een eind aan maken" in data["hulpvraag"]
    assert datetime.fromisoformat(data["created_at"]).tzinfo is not None
    r = c.get(f"/api/cases/{number}/startformulier?download=1")
    assert r.headers["content-disposition"] == f'attachment; filename="startformulier-{number}.json"'
    assert r.json() == data
    # children and a date of birth in their forms
    with console.store.session() as s:
        sf = s.exec(select(Startformulier).where(Startformulier.case_id == stored.id)).one()
        sf.fields = {**sf.fields, "kinderen": True, "geboortedatum": "1961-05-03"}
        s.add(sf)
        s.commit()
    fields = c.get(f"/api/cases/{number}/startformulier").json()["fields"]
    assert fields["kinderen"] is True and fields["geboortedatum"] == "1961-05-03"
    assert "03-05-1961" in c.get(f"/zaak/{number}/startformulier").text  # on paper as people write it
    assert [d["format"] for _, d in exports(console, number)] == ["json", "json", "json", "html"]


def test_each_role_exports_only_its_own_cases(console, made):
    kcc, bd, beheer, nobody = (console.client("kcc"), console.client("bureaudienst"), console.client("beheer"),
                               console.client())
    urls = ("/zaak/{}/startformulier", "/zaak/{}/startformulier.pdf", "/api/cases/{}/startformulier")
    for url in urls:
        assert kcc.get(url.format(made["crisis"])).status_code == 404
        assert bd.get(url.format(made["info"])).status_code == 404
        assert bd.get(url.format("SWT-2000-000001")).status_code == 404
        assert beheer.get(url.format(made["crisis"])).status_code == 403
    assert nobody.get(f"/api/cases/{made['crisis']}/startformulier").status_code == 401
    assert nobody.get(f"/zaak/{made['crisis']}/startformulier").status_code == 303
    refused = kcc.get(f"/zaak/{made['crisis']}/startformulier.pdf")
    assert "Renée" not in refused.text and "Zaak niet gevonden" in refused.text
    assert exports(console, made["crisis"]) == [] and exports(console, made["info"]) == []
    # the KCC exports its own case, back link to its own case page
    r = kcc.get(f"/zaak/{made['info']}/startformulier")
    assert r.status_code == 200 and f'href="/kcc/zaak/{made["info"]}"' in r.text
    assert kcc.get(f"/zaak/{made['info']}/startformulier.pdf").content.startswith(b"%PDF-")
    assert kcc.get(f"/api/cases/{made['info']}/startformulier").json()["case_number"] == made["info"]
    assert exports(console, made["info"]) == [("kcc", {"format": f}) for f in ("html", "pdf", "json")]
