"""The bureaudienst in a real headless Chromium: a crisis made last is shown
first (also when it arrives while the queue is open), is opened and
accepted with the keyboard for the suggested wijkteam member; screenshots of
the queue, the case and the printable startformulier."""

from sqlmodel import select

from triage.store import Case

ENKELVOUDIG = ("Goedendag, mijn moeder (82) kan de trap niet meer op en heeft een traplift nodig. "
               "Ze woont op Dorpsstraat 8, 1787 AA Julianadorp. Groet, Ans Visser")
CRISIS = ("Ik zie het echt niet meer zitten en wil er vanavond een eind aan maken. Ik woon aan de Spoorstraat 12, "
          "1781 AB Den Helder. Mijn telefoon is 0612345678. Groet, Renée Jansen")


def test_crisis_first_accepted_with_the_keyboard(live_console, chromium):
    first = live_console.mail(ENKELVOUDIG, subject="Traplift", sender="visser@example.nl")
    page = live_console.login_page(chromium, "bureaudienst")
    page.set_viewport_size({"width": 1280, "height": 900})
    assert page.url == f"{live_console.url}/bureaudienst"
    rows = page.locator("table.bd-queue tbody tr")
    assert rows.count() == 1

    # the crisis arrives while the queue is open; the table refreshes itself (htmx, every 30 s: asked for now)
    crisis = live_console.mail(CRISIS, subject="Hulp", sender="renee@example.nl")
    page.evaluate("htmx.ajax('GET', '/bureaudienst?tab=nieuw&page=1', {target: '#wachtrij', swap: 'outerHTML'})")
    page.wait_for_function("document.querySelectorAll('table.bd-queue tbody tr').length === 2")
    top = rows.first
    assert crisis in top.inner_text() and "Crisis" in top.locator(".tag.crisis").inner_text()
    assert first in rows.nth(1).inner_text()
    assert page.get_by_role("link", name="Nieuw (2)").get_attribute("aria-current") == "page"
    live_console.screenshot(page, "bureaudienst_wachtrij")

    # open it with the keyboard
    page.get_by_role("link", name=crisis).focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_console.url}/bureaudienst/zaak/{crisis}")
    assert "vandaag nog contact" in page.get_by_role("alert").first.inner_text()
    member = page.get_by_label("Medewerker van het wijkteam")
    chosen = member.evaluate("s => s.options[s.selectedIndex].text")
    assert chosen.startswith("Anouk de Vries (voorgesteld: focuswijk Centrum)")
    assert "Voorgesteld: Anouk de Vries, focuswijk Centrum" in page.locator("#voorstel").inner_text()
    live_console.screenshot(page, "bureaudienst_zaak")

    member.focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Aannemen en toewijzen"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_console.url}/bureaudienst/zaak/{crisis}?gedaan=aangenomen#melding")
    assert page.get_by_role("status").inner_text() == "De zaak is aangenomen en toegewezen aan Anouk de Vries."
    with live_console.store.session() as s:
        c = s.exec(select(Case).where(Case.number == crisis)).one()
    assert (c.status, c.assigned_to, c.accepted_by) == ("accepted", "Anouk de Vries", "bureaudienst")

    # the printable startformulier, as it comes out of the printer (the hint is not printed)
    page.get_by_role("link", name="Afdrukken of opslaan als PDF").click()
    page.wait_for_url(f"{live_console.url}/zaak/{crisis}/startformulier")
    assert page.get_by_role("heading", level=1).inner_text() == "Startformulier"
    assert "Renée Jansen" in page.locator("main").inner_text()
    live_console.screenshot(page, "startformulier_print")
    assert page.get_by_role("note").is_visible()
    page.emulate_media(media="print")
    assert not page.get_by_role("note").is_visible()
    page.close()
