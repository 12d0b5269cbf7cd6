"""The bureaudienst's console: the queue (crisis first, then priority, then
age), one case with its startformulier, accept and assign, return to the
KCC, close; the JSON API; who may see what; speed with 10,000 cases."""

import re
import time
from datetime import timedelta

import pytest
from sqlmodel import select

from triage.store import Case, Correction, Event, Startformulier, utcnow

ENKELVOUDIG = ("Goedendag, mijn moeder (82) kan de trap niet meer op en heeft een traplift nodig. "
               "Ze woont op Dorpsstraat 8, 1787 AA Julianadorp. Groet, Ans Visser")
MEERVOUDIG = ("Beste wijkteam, wij hebben schulden bij de energie en de zorgverzekering, mijn zoon van 9 gaat al weken "
              "niet naar school en ik voel me somber. Wij wonen op de Middenweg 5, 1782 BC Den Helder. Kunt u ons "
              "helpen? Met vriendelijke groet, Noël de Boer, 0623456789")
HOOG = ("Beste wijkteam, wij hebben een huurachterstand van vier maanden en de woningcorporatie dreigt met ontruiming. "
        "Mijn man drinkt te veel en ik heb geen werk meer. Onze dochter van 12 spijbelt. Wij wonen op "
        "Texelstroomlaan 8, 1785 AA Den Helder. Groet, Sandra Wit, 0687654321")
CRISIS = ("Ik zie het echt niet meer zitten en wil er vanavond een eind aan maken. Ik woon aan de Spoorstraat 12, "
          "1781 AB Den Helder. Mijn telefoon is 0612345678. Groet, Renée Jansen")
INFO = "Wat zijn de openingstijden van het Zorgloket?"


def case_of(console, number):
    with console.store.session() as s:
        return s.exec(select(Case).where(Case.number == number)).one()


def events(console, number, action=None):
    c = case_of(console, number)
    with console.store.session() as s:
        q = select(Event).where(Event.case_id == c.id)
        if action:
            q = q.where(Event.action == action)
        return list(s.exec(q.order_by(Event.id)).all())


def corrections(console, number):
    c = case_of(console, number)
    with console.store.session() as s:
        return {r.field: (r.old, r.new, r.actor) for r in s.exec(select(Correction).where(Correction.case_id == c.id))}


@pytest.fixture
def cases(console):
    """Four bureaudienst cases made in this order (the crisis LAST) and one for the KCC."""
    made = {name: console.mail(text, subject="Hulpvraag", sender=f"{name}@example.nl")
            for name, text in (("enkel", ENKELVOUDIG), ("meer", MEERVOUDIG), ("hoog", HOOG), ("crisis", CRISIS),
                               ("info", INFO))}
    got = {k: (case_of(console, n).category, case_of(console, n).priority, case_of(console, n).queue)
           for k, n in made.items()}
    assert got == {"enkel": ("enkelvoudig", "normaal", "bureaudienst"), "meer": ("meervoudig", "normaal", "bureaudienst"),
                   "hoog": ("meervoudig", "hoog", "bureaudienst"), "crisis": ("crisis", "spoed", "bureaudienst"),
                   "info": ("info_advies", None, "kcc")}
    return made


def test_queue_shows_crisis_first_then_priority_then_age(console, cases):
    c = console.client("bureaudienst")
    page = c.get("/bureaudienst")
    assert page.status_code == 200
    html = page.text
    order = sorted((k for k in cases if k != "info"), key=lambda k: html.index(f'id="zaak-{cases[k]}"'))
    assert order == ["crisis", "hoog", "enkel", "meer"]
    assert cases["info"] not in html  # the KCC's case is not in this queue
    # the crisis row says so in words, not only by colour; ages are visible
    row = html[html.index(f'id="zaak-{cases["crisis"]}"'):].split("</tr>")[0]
    assert '<span class="tag crisis">Crisis</span>' in row and "0 min" in row
    assert "niet meer zitten" in row and "…</td>" in row and "0612345678" not in row  # the hulpvraag, cut short
    assert 'hx-trigger="every 30s"' in html and "<th scope=\"col\">Wacht</th>" in html
    assert "Nieuw (4)" in html and "Automatisch (niet via KCC)" in html

    api = c.get("/api/bureaudienst/queue").json()
    assert [r["number"] for r in api["rows"]] == [cases[k] for k in ("crisis", "hoog", "enkel", "meer")]
    assert api["rows"][0]["crisis"] is True and api["rows"][0]["age"] == "0 min" and api["counts"]["nieuw"] == 4
    with console.store.session() as s:
        ev = s.exec(select(Event).where(Event.action == "queue_viewed")).all()
    assert [e.actor for e in ev] == ["bureaudienst"] * 3  # the landing page after login, the page, the API
    assert all("tab" in e.detail and "Spoorstraat" not in str(e.detail) for e in ev)


def test_age_orders_within_a_priority_and_shows_on_the_page(console, cases):
    # the younger normaal case made older than the other: it moves up
    with console.store.session() as s:
        c = s.exec(select(Case).where(Case.number == cases["meer"])).one()
        c.created_at = utcnow() - timedelta(hours=3, minutes=5)
        s.add(c)
        s.commit()
    client = console.client("bureaudienst")
    rows = client.get("/api/bureaudienst/queue").json()["rows"]
    assert [r["number"] for r in rows] == [cases[k] for k in ("crisis", "hoog", "meer", "enkel")]
    assert rows[2]["age"] == "3 uur"
    html = client.get("/bureaudienst").text
    assert "3 uur" in html


def test_htmx_refresh_returns_only_the_table(console, cases):
    c = console.client("bureaudienst")
    r = c.get("/bureaudienst", headers={"HX-Request": "true", "HX-Target": "wachtrij"})
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<div id="wachtrij"') and "<html" not in r.text
    assert cases["crisis"] in r.text


def test_case_page_shows_messages_reasons_form_and_suggestion(console, cases):
    c = console.client("bureaudienst")
    r = c.get(f"/bureaudienst/zaak/{cases['crisis']}")
    assert r.status_code == 200
    html = r.text
    assert 'class="crisis-banner"' in html and "vandaag nog contact" in html
    assert "wil er vanavond een eind aan maken" in html  # the message
    assert "crisis: crisisnummers direct" in html  # a triage reason
    assert 'value="Renée Jansen"' in html and 'value="1781 AB"' in html and 'value="0612345678"' in html
    # Centrum: Anouk de Vries and Bram Koster both have it; nobody has open cases: the first in the file
    selected = re.search(r'<option value="([^"]+)" selected>([^<]+)</option>', html)
    assert selected.group(1) == "Anouk de Vries" and "(voorgesteld: focuswijk Centrum)" in selected.group(2)
    assert "Een crisis blijft bij de bureaudienst" in html  # no return form for a crisis
    for path in ("/zaak/{}/startformulier", "/zaak/{}/startformulier.pdf", "/api/cases/{}/startformulier?download=1"):
        assert path.format(cases["crisis"]) in html
    viewed = events(console, cases["crisis"], "case_viewed")
    assert [e.actor for e in viewed] == ["bureaudienst"]

    data = c.get(f"/api/bureaudienst/cases/{cases['crisis']}").json()
    assert data["suggestion"] == "Anouk de Vries" and data["crisis"] and data["wijk"] == "Centrum"
    assert data["startformulier"]["fields"]["naam"] == "Renée Jansen"
    assert len(events(console, cases["crisis"], "case_viewed")) == 2


def test_suggestion_goes_to_the_member_with_fewest_open_cases(console, cases):
    c = console.client("bureaudienst")
    r = c.post(f"/bureaudienst/zaak/{cases['crisis']}/aannemen", data={"csrf": c.csrf, "assigned_to": "Anouk de Vries"})
    assert r.status_code == 303
    # the meervoudig case is in Centrum too: Anouk has one open case now, Bram none
    assert c.get(f"/api/bureaudienst/cases/{cases['meer']}").json()["suggestion"] == "Bram Koster"
    # no postcode, no wijk: no suggestion
    number = console.mail("Wij zijn dakloos sinds vorige week en slapen bij vrienden op de bank, maar dat kan maar "
                          "tot volgende maand. Ik heb ook schulden en geen inkomen. Groet, Peter Kok",
                          sender="kok@example.nl")
    assert case_of(console, number).queue == "bureaudienst" and case_of(console, number).wijk is None
    page = c.get(f"/bureaudienst/zaak/{number}").text
    assert "Geen voorstel: de postcode en de wijk zijn niet bekend." in page and " selected>" not in page.split(
        'id="assigned_to"')[1].split("</select>")[0]


def test_accept_assigns_and_twice_is_a_clear_conflict(console, cases):
    c = console.client("bureaudienst")
    number = cases["crisis"]
    r = c.post(f"/bureaudienst/zaak/{number}/aannemen", data={"csrf": c.csrf, "assigned_to": "Bram Koster"})
    assert r.status_code == 303 and r.headers["location"].startswith(f"/bureaudienst/zaak/{number}?gedaan=aangenomen")
    page = c.get(r.headers["location"]).text
    assert "De zaak is aangenomen en toegewezen aan Bram Koster." in page
    case = case_of(console, number)
    assert (case.status, case.assigned_to, case.accepted_by) == ("accepted", "Bram Koster", "bureaudienst")
    assert [(e.actor, e.detail) for e in events(console, number, "case_accepted")] == [
        ("bureaudienst", {"assigned_to": "Bram Koster"})]
    again = c.post(f"/bureaudienst/zaak/{number}/aannemen", data={"csrf": c.csrf, "assigned_to": "Linda Smit"})
    assert again.status_code == 409 and "Deze zaak is al aangenomen door bureaudienst." in again.text
    assert case_of(console, number).assigned_to == "Bram Koster"
    api = c.post(f"/api/bureaudienst/cases/{number}/accept", json={"assigned_to": "Linda Smit"},
                 headers={"X-CSRF-Token": c.csrf})
    assert api.status_code == 409 and api.json()["detail"] == "Deze zaak is al aangenomen door bureaudienst."
    # the accepted case moves to the tab Aangenomen
    assert [r["number"] for r in c.get("/api/bureaudienst/queue?tab=aangenomen").json()["rows"]] == [number]
    assert number not in [r["number"] for r in c.get("/api/bureaudienst/queue").json()["rows"]]


def test_accept_needs_a_member_of_the_team(console, cases):
    c = console.client("bureaudienst")
    r = c.post(f"/bureaudienst/zaak/{cases['enkel']}/aannemen", data={"csrf": c.csrf, "assigned_to": "Iemand Anders"})
    assert r.status_code == 422 and "Kies een medewerker uit de lijst van het wijkteam." in r.text
    api = c.post(f"/api/bureaudienst/cases/{cases['enkel']}/accept", json={"assigned_to": "Sanne Mulder"},
                 headers={"X-CSRF-Token": c.csrf})
    assert api.status_code == 200 and api.json()["assigned_to"] == "Sanne Mulder" and api.json()["status"] == "accepted"


def test_return_needs_a_remark_and_moves_the_case_to_the_kcc(console, cases):
    c = console.client("bureaudienst")
    number = cases["enkel"]
    r = c.post(f"/bureaudienst/zaak/{number}/terug", data={"csrf": c.csrf, "remark": "   "})
    assert r.status_code == 422 and "Schrijf erbij waarom de zaak terug gaat naar het KCC." in r.text
    case = case_of(console, number)
    assert (case.queue, case.remark, case.status) == ("bureaudienst", None, "open")
    assert events(console, number, "case_returned") == []
    api = c.post(f"/api/bureaudienst/cases/{number}/return", json={}, headers={"X-CSRF-Token": c.csrf})
    assert api.status_code == 422 and "Schrijf erbij" in api.json()["detail"]

    r = c.post(f"/bureaudienst/zaak/{number}/terug",
               data={"csrf": c.csrf, "remark": "Alleen een traplift: dit kan het Zorgloket zelf afhandelen."})
    assert r.status_code == 303
    assert f"Zaak {number} is teruggestuurd naar het KCC." in c.get(r.headers["location"]).text
    case = case_of(console, number)
    assert case.queue == "kcc" and case.remark.startswith("Alleen een traplift")
    assert [e.actor for e in events(console, number, "case_returned")] == ["bureaudienst"]
    # now it is the KCC's: the bureaudienst no longer sees it
    assert c.get(f"/bureaudienst/zaak/{number}").status_code == 404
    # a crisis stays
    r = c.post(f"/api/bureaudienst/cases/{cases['crisis']}/return", json={"remark": "Niet voor ons"},
               headers={"X-CSRF-Token": c.csrf})
    assert r.status_code == 409 and r.json()["detail"] == "Een crisis blijft bij de bureaudienst."
    assert case_of(console, cases["crisis"]).queue == "bureaudienst"


def test_close_with_or_without_indicatie(console, cases):
    c = console.client("bureaudienst")
    r = c.post(f"/bureaudienst/zaak/{cases['hoog']}/sluiten", data={"csrf": c.csrf})
    assert r.status_code == 422 and "met of zonder indicatie" in r.text and case_of(console, cases["hoog"]).status == "open"
    r = c.post(f"/bureaudienst/zaak/{cases['hoog']}/sluiten", data={"csrf": c.csrf, "indicatie": "ja"})
    assert r.status_code == 303
    case = case_of(console, cases["hoog"])
    assert (case.status, case.indicatie) == ("closed", True) and case.closed_at is not None
    assert [(e.actor, e.detail) for e in events(console, cases["hoog"], "case_closed")] == [
        ("bureaudienst", {"indicatie": True})]
    assert "met indicatie" in c.get(r.headers["location"]).text
    api = c.post(f"/api/bureaudienst/cases/{cases['meer']}/close", json={"indicatie": False},
                 headers={"X-CSRF-Token": c.csrf})
    assert api.status_code == 200 and api.json()["indicatie"] is False and api.json()["status"] == "closed"
    again = c.post(f"/api/bureaudienst/cases/{cases['meer']}/close", json={"indicatie": True},
                   headers={"X-CSRF-Token": c.csrf})
    assert again.status_code == 409 and again.json()["detail"] == "Deze zaak is al gesloten."
    closed = c.get("/api/bureaudienst/queue?tab=gesloten").json()
    assert {r["number"] for r in closed["rows"]} == {cases["hoog"], cases["meer"]}


def test_startformulier_edit_keeps_what_was_typed_on_errors(console, cases):
    c = console.client("bureaudienst")
    number = cases["enkel"]
    form = {"csrf": c.csrf, "naam": "Ans Visser", "geboortedatum": "31-02-1950", "bsn": "123456789",
            "telefoon": "06 1234 5678", "email": "", "straat_huisnummer": "Dorpsstraat 8", "postcode": "17 AA",
            "woonplaats": "Julianadorp", "aanmelder": "naaste", "aanmelder_organisatie": "", "consent": "ja",
            "hulpvraag": "Traplift voor moeder, gebeld op dinsdag."}
    r = c.post(f"/bureaudienst/zaak/{number}/startformulier", data=form)
    assert r.status_code == 422
    html = r.text
    assert "Het startformulier is niet opgeslagen." in html
    assert "Dit BSN klopt niet (de elfproef faalt)" in html and "Een postcode is vier cijfers en twee letters" in html
    assert "Schrijf de datum als dd-mm-jjjj" in html
    # every typed value is still there, also the valid ones
    for value in ('value="31-02-1950"', 'value="123456789"', 'value="06 1234 5678"', 'value="17 AA"',
                  "Traplift voor moeder, gebeld op dinsdag.", 'value="ja" checked'):
        assert value in html, value
    assert 'id="f-bsn" name="bsn" value="123456789" autocomplete="off" aria-invalid="true" aria-describedby="fout-bsn"' in html
    assert corrections(console, number) == {}

    form.update({"geboortedatum": "03-05-1941", "bsn": "", "postcode": "1781 ab", "kinderen": "ja"})
    r = c.post(f"/bureaudienst/zaak/{number}/startformulier", data=form)
    assert r.status_code == 303 and "gedaan=opgeslagen" in r.headers["location"]
    with console.store.session() as s:
        sf = s.exec(select(Startformulier).where(Startformulier.case_id == case_of(console, number).id)).one()
    assert sf.fields == {"naam": "Ans Visser", "geboortedatum": "1941-05-03", "telefoon": "0612345678",
                         "straat_huisnummer": "Dorpsstraat 8", "postcode": "1781 AB", "woonplaats": "Julianadorp",
                         "aanmelder": "naaste", "kinderen": True}
    assert sf.consent == "ja" and sf.hulpvraag == "Traplift voor moeder, gebeld op dinsdag."
    corr = corrections(console, number)
    assert corr["startformulier.postcode"] == ("1787 AA", "1781 AB", "bureaudienst")
    assert corr["startformulier.naam"] == (None, "Ans Visser", "bureaudienst")
    assert corr["startformulier.consent"] == ("onbekend", "ja", "bureaudienst")
    assert case_of(console, number).wijk == "Centrum"  # the wijk follows the new postcode
    assert [e.actor for e in events(console, number, "startformulier_changed")] == ["bureaudienst"]
    page = c.get(r.headers["location"]).text
    assert "Het startformulier is opgeslagen." in page and 'value="03-05-1941"' in page


def test_put_startformulier_api_for_both_roles_with_dutch_errors(console, cases):
    bd, kcc = console.client("bureaudienst"), console.client("kcc")
    url = f"/api/cases/{cases['meer']}/startformulier"
    r = bd.put(url, json={"fields": {"telefoon": "12", "email": "geen-adres", "schoenmaat": "43"}, "consent": "misschien"},
               headers={"X-CSRF-Token": bd.csrf})
    assert r.status_code == 422
    assert r.json()["errors"] == {
        "telefoon": "Dit is geen geldig Nederlands telefoonnummer (bijvoorbeeld 0612345678).",
        "email": "Dit is geen geldig e-mailadres (bijvoorbeeld naam@voorbeeld.nl).",
        "schoenmaat": "Dit veld bestaat niet op het startformulier.", "consent": "Kies ja, nee of onbekend."}
    assert corrections(console, cases["meer"]) == {}
    r = bd.put(url, json={"fields": {"email": "Noel.deBoer@Example.nl"}, "consent": "nee"},
               headers={"X-CSRF-Token": bd.csrf})
    assert r.status_code == 200
    assert r.json()["fields"]["email"] == "noel.deboer@example.nl" and r.json()["consent"] == "nee"
    assert r.json()["fields"]["naam"] == "Noël de Boer"  # untouched fields stay
    assert corrections(console, cases["meer"])["startformulier.email"] == (None, "noel.deboer@example.nl", "bureaudienst")
    # the KCC edits its own cases, not the bureaudienst's; and the other way round
    assert kcc.put(url, json={"fields": {"naam": "X"}}, headers={"X-CSRF-Token": kcc.csrf}).status_code == 404
    info = f"/api/cases/{cases['info']}/startformulier"
    assert bd.put(info, json={"fields": {"naam": "X"}}, headers={"X-CSRF-Token": bd.csrf}).status_code == 404
    r = kcc.put(info, json={"fields": {"naam": "Mw. Bakker", "postcode": "1784ab"}}, headers={"X-CSRF-Token": kcc.csrf})
    assert r.status_code == 200 and r.json()["fields"]["postcode"] == "1784 AB" and r.json()["wijk"] == "De Schooten"
    assert corrections(console, cases["info"])["startformulier.naam"][2] == "kcc"
    # without the CSRF token nothing happens
    assert bd.put(url, json={"fields": {"naam": "Y"}}).status_code == 403


def test_kcc_case_is_404_for_the_bureaudienst_and_pages_are_for_the_bureaudienst_only(console, cases):
    bd = console.client("bureaudienst")
    info = cases["info"]
    assert bd.get(f"/bureaudienst/zaak/{info}").status_code == 404
    assert bd.get("/bureaudienst/zaak/SWT-2000-999999").status_code == 404
    assert bd.get(f"/api/bureaudienst/cases/{info}").status_code == 404
    h = {"X-CSRF-Token": bd.csrf}
    assert bd.post(f"/api/bureaudienst/cases/{info}/accept", json={"assigned_to": "Linda Smit"}, headers=h).status_code == 404
    assert bd.post(f"/bureaudienst/zaak/{info}/sluiten", data={"csrf": bd.csrf, "indicatie": "ja"}).status_code == 404
    assert bd.post(f"/bureaudienst/zaak/{info}/terug", data={"csrf": bd.csrf, "remark": "x"}).status_code == 404
    case = case_of(console, info)
    assert (case.status, case.queue) == ("open", "kcc") and events(console, info, "case_viewed") == []
    for role in ("kcc", "beheer"):
        other = console.client(role)
        assert other.get("/bureaudienst").status_code == 403
        assert other.get(f"/bureaudienst/zaak/{cases['crisis']}").status_code == 403
        assert other.get("/api/bureaudienst/queue").status_code == 403
    assert console.client().get("/api/bureaudienst/queue").status_code == 401
    # a form without the CSRF token changes nothing
    r = bd.post(f"/bureaudienst/zaak/{cases['crisis']}/aannemen", data={"assigned_to": "Linda Smit"})
    assert r.status_code == 403 and case_of(console, cases["crisis"]).status == "open"


def test_api_routes_are_in_openapi(console):
    paths = console.client().get("/openapi.json").json()["paths"]
    assert set(paths["/api/bureaudienst/queue"]) == {"get"}
    assert set(paths["/api/cases/{number}/startformulier"]) == {"get", "put"}
    for action in ("accept", "return", "close"):
        assert "post" in paths[f"/api/bureaudienst/cases/{{number}}/{action}"]
    assert not any(p.startswith("/bureaudienst") for p in paths)


def _fill(console, n: int) -> list[str]:
    """n cases in the store, written in bulk (the triage is not what is measured)."""
    from sqlalchemy import insert

    now = utcnow()
    cats = ("enkelvoudig", "meervoudig", "crisis", "info_advies")
    prios = {"enkelvoudig": "normaal", "meervoudig": "hoog", "crisis": "spoed", "info_advies": None}
    statuses = ("open", "open", "accepted", "closed")
    year = now.year
    rows = []
    for i in range(n):
        cat = cats[i % 4] if i % 50 else "crisis"
        rows.append({"number": f"SWT-{year}-{900000 + i:06d}", "created_at": now - timedelta(minutes=i), "kanaal": "email",
                     "category": cat, "domains": ["schulden", "jeugd"], "confidence": 0.9,
                     "route": "bureaudienst" if cat != "info_advies" else "kcc_review", "priority": prios[cat],
                     "reasons": ["test"], "status": statuses[i % 4], "wijk": "Centrum",
                     "queue": "kcc" if cat == "info_advies" else "bureaudienst",
                     "assigned_to": "Bram Koster" if statuses[i % 4] == "accepted" else None,
                     "closed_at": now if statuses[i % 4] == "closed" else None})
    with console.store.session() as s:
        s.exec(insert(Case), params=rows)
        ids = s.exec(select(Case.id).where(Case.number.like(f"SWT-{year}-9%"))).all()
        s.exec(insert(Startformulier), params=[
            {"case_id": i, "fields": {"naam": "Test Persoon", "postcode": "1781 AB"}, "evidence": {}, "consent": "onbekend",
             "hulpvraag": "Wij hebben schulden en onze zoon heeft hulp nodig op school. " * 5, "updated_at": now}
            for i in ids])
        s.commit()
    return [r["number"] for r in rows]


def _server_ms(response) -> float:
    return float(re.search(r"dur=([\d.]+)", response.headers["Server-Timing"]).group(1))


def test_pages_stay_under_200_ms_with_10000_cases(console, cases):
    numbers = _fill(console, 10_000)
    c = console.client("bureaudienst")
    crisis = numbers[100]  # an open crisis in the bureaudienst queue
    pages = {"queue": "/bureaudienst", "queue page 20": "/bureaudienst?page=20",
             "accepted": "/bureaudienst?tab=aangenomen", "closed": "/bureaudienst?tab=gesloten",
             "queue api": "/api/bureaudienst/queue?page=3", "case": f"/bureaudienst/zaak/{crisis}",
             "case api": f"/api/bureaudienst/cases/{crisis}", "print": f"/zaak/{crisis}/startformulier",
             "pdf": f"/zaak/{crisis}/startformulier.pdf", "json": f"/api/cases/{crisis}/startformulier"}
    timings = {}
    for name, url in pages.items():
        best = float("inf")
        for _ in range(3):  # the best of three: another process may hold the cores for a moment
            r = c.get(url)
            assert r.status_code == 200, (name, r.status_code)
            best = min(best, _server_ms(r))
        timings[name] = best
    print("server ms with 10,000 cases:", {k: round(v, 1) for k, v in timings.items()})
    assert all(ms <= 200 for ms in timings.values()), timings
    api = c.get("/api/bureaudienst/queue").json()
    assert api["pages"] > 50 and len(api["rows"]) == 50
    assert all(r["crisis"] for r in api["rows"])  # 200 crises at the top, then the rest
    t0 = time.perf_counter()
    r = c.post(f"/bureaudienst/zaak/{crisis}/aannemen", data={"csrf": c.csrf, "assigned_to": "Anouk de Vries"})
    assert r.status_code == 303 and _server_ms(r) <= 200, _server_ms(r)
    assert time.perf_counter() - t0 < 2
