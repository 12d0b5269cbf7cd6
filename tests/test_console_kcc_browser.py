"""The KCC console in a real headless Chromium: accept a route, correct
another, type a phone note and see its triage before saving, then complete
the startformulier with consent. Screenshots: kcc_inbox, kcc_zaak,
kcc_telefoonnotitie (tests/output/screenshots)."""

import re

from sqlmodel import select

from triage.store import Case, Correction, InboundRecord, Startformulier

OPENINGSTIJDEN = ("Goedemiddag, wat zijn de openingstijden van het wijkteam? Ik wil graag eens langskomen met een "
                  "vraag over mijn situatie. Met vriendelijke groet, Petra de Groot")
AANVRAAG = "Goedendag, ik wil graag weten hoe het werkt met aanvragen bij jullie. Wat moet ik doen? Groet, Henk Bakker"
MANTELZORG = ("Hallo, waar kan ik terecht voor informatie over mantelzorg? Mijn moeder woont nog thuis en ik zorg "
              "elke dag voor haar. Groet, Els")
SCHULDEN = "Waar kan ik terecht met vragen over mijn rekeningen? Ik raak het overzicht een beetje kwijt. Groet, Kees"
NOTE = ("Mevrouw Jansen belt. Ze kan de trap niet meer op en wil een traplift aanvragen. Telefoon 0612345678, "
        "Dorpsstraat 12, 1781 AB Den Helder.")


def row(console, number):
    with console.store.session() as s:
        return s.exec(select(Case).where(Case.number == number)).one()


def test_kcc_accepts_corrects_and_enters_a_phone_note(live_console, chromium):
    first = live_console.mail(OPENINGSTIJDEN, subject="Openingstijden", sender="petra@example.nl")
    second = live_console.mail(AANVRAAG, subject="Aanvraag", sender="henk@example.nl")
    assert row(live_console, first).queue == row(live_console, second).queue == "kcc"
    live_console.mail(MANTELZORG, subject="Mantelzorg")  # auto-answered: its standard answer shows in the list
    returned = live_console.mail(SCHULDEN, subject="Rekeningen")
    live_console.store.forward_case(returned, "kcc")
    live_console.store.return_case(returned, "bureaudienst", remark="Eerst de schuldhulp-informatie sturen, graag.")
    page = live_console.login_page(chromium, "kcc")
    base = live_console.url
    assert page.url == f"{base}/kcc"
    assert page.get_by_role("heading", level=1).inner_text() == "Inbox KCC"
    assert page.get_by_role("link", name=first).is_visible() and page.get_by_role("link", name=second).is_visible()
    assert "Teruggestuurd door de bureaudienst" in page.locator("table").inner_text()
    live_console.screenshot(page, "kcc_inbox")

    # 1. accept the first case's route, with the keyboard
    page.get_by_role("link", name=first).click()
    page.wait_for_url(f"{base}/kcc/zaak/{first}")
    assert "openingstijden van het wijkteam" in page.locator(".message-text").first.inner_text()
    live_console.screenshot(page, "kcc_zaak")
    page.get_by_role("button", name="Route accepteren").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/kcc\?gedaan=geaccepteerd.*"))
    assert first in page.get_by_role("status").inner_text()
    assert row(live_console, first).review == "accepted"

    # 2. correct the second: the agent knows it is a support need for the Wmo
    page.goto(f"{base}/kcc/zaak/{second}")
    page.get_by_label("Categorie", exact=True).select_option("enkelvoudig")
    boxes = page.locator("input[name=domains]")
    for i in range(boxes.count()):
        boxes.nth(i).set_checked(boxes.nth(i).get_attribute("value") == "wmo")
    page.get_by_role("button", name="Verbetering opslaan").click()
    page.wait_for_url(re.compile(r".*/kcc\?gedaan=verbeterd_bd.*"))
    assert "staat nu bij de bureaudienst" in page.get_by_role("status").inner_text()
    r = row(live_console, second)
    assert (r.category, r.domains, r.queue) == ("enkelvoudig", ["wmo"], "bureaudienst")
    with live_console.store.session() as s:
        assert {c.field for c in s.exec(select(Correction).where(Correction.case_id == r.id))} >= {"category", "domains"}

    # 3. a phone note: the triage shows while typing, nothing is stored before saving
    page.get_by_role("link", name="Telefoonnotitie").click()
    page.wait_for_url(f"{base}/kcc/telefoonnotitie")
    page.get_by_label("Notitie van het telefoongesprek").press_sequentially(NOTE, delay=5)
    preview = page.locator("#voorbeeld")
    preview.get_by_text("Enkelvoudig").wait_for(timeout=10_000)
    assert "Wmo" in preview.inner_text() and "0612345678" in preview.inner_text()
    with live_console.store.session() as s:
        assert s.exec(select(InboundRecord).where(InboundRecord.kanaal == "phone")).all() == []
    live_console.screenshot(page, "kcc_telefoonnotitie")
    page.get_by_role("button", name="Notitie opslaan").click()
    page.wait_for_url(re.compile(r".*/kcc/zaak/SWT-\d{4}-\d{6}\?gedaan=notitie.*"))
    number = re.search(r"SWT-\d{4}-\d{6}", page.url).group(0)
    assert page.get_by_label("Telefoonnummer").input_value() == "0612345678"  # pre-filled by the extraction
    assert page.get_by_label("Postcode").input_value() == "1781 AB"
    assert page.get_by_text("Bel de inwoner terug").is_visible()

    # 4. complete the startformulier and record consent as asked
    page.get_by_label("Naam").fill("Truus Jansen")
    page.get_by_label("Geboortedatum").fill("03-05-1941")
    page.get_by_label("Wie meldt aan").select_option("inwoner")
    page.get_by_label("Ja, de inwoner geeft toestemming").check()
    page.get_by_role("button", name="Startformulier opslaan").click()
    page.wait_for_url(re.compile(r".*gedaan=opgeslagen.*"))
    assert "Het startformulier" in page.get_by_role("status").inner_text()
    with live_console.store.session() as s:
        form = s.exec(select(Startformulier).where(Startformulier.case_id == row(live_console, number).id)).one()
    assert form.consent == "ja" and form.fields["naam"] == "Truus Jansen" and form.fields["geboortedatum"] == "1941-05-03"
    assert form.fields["aanmelder"] == "inwoner"
    page.close()
