"""The beheer pages in a real headless Chromium against the console on a
real uvicorn: the dashboard shows the counts of the cases in the store, the
report its two tables, and the model page trains a model with the
corrections (htmx polls the status), refuses a version with a lower crisis
recall with the reason, activates one and rolls back. Screenshots
beheer_dashboard, beheer_rapport, beheer_model in tests/output/screenshots."""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

import pytest

from conftest import REPO
from test_console_beheer import (CRISIS, INFO, SCHULDEN, TRAPLIFT, case_of, crafted_version, other_category,
                                 to_kcc)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def fill(live) -> dict:
    """Six cases: four mails (one from a partner), a crisis mail and a phone
    note; the KCC accepts one route and corrects one, the bureaudienst closes
    the corrected one with an indication."""
    st = live.store
    n = {"info": live.mail(INFO), "traplift": live.mail(TRAPLIFT), "schulden": live.mail(SCHULDEN),
         "partner": live.mail(f"Namens MEE meld ik een inwoner aan. {TRAPLIFT}", sender="mee@partner.example"),
         "crisis": live.mail(CRISIS),
         "phone": live.service.intake.receive_phone_note(SCHULDEN, "kcc", uuid.uuid4().hex).case_number}
    to_kcc(st, n["info"])
    st.accept_route(n["info"], "kcc")
    to_kcc(st, n["traplift"])
    cat, doms = other_category(case_of(st, n["traplift"]))
    st.correct_case(n["traplift"], "kcc", category=cat, domains=doms)
    st.finish_case(n["traplift"], "bureaudienst", indicatie=True)
    st.update_startformulier(n["partner"], "kcc", fields={"aanmelder": "partner"})
    return n


def test_dashboard_and_report_show_the_counts(live_console, chromium):
    fill(live_console)
    page = live_console.login_page(chromium, "beheer")
    try:
        page.set_viewport_size({"width": 1280, "height": 900})
        assert page.url.endswith("/beheer")
        assert page.get_by_role("heading", level=1).inner_text() == "Dashboard"
        assert page.locator("#totaal-vragen").inner_text() == "6"
        assert page.locator("#totaal-kanaal-email").inner_text() == "5"
        assert page.locator("#totaal-kanaal-phone").inner_text() == "1"
        assert page.locator("#totaal-crisis").inner_text() == "1"
        assert page.locator("#totaal-akkoord").inner_text() == "50%"  # 1 accepted, 1 corrected
        assert page.locator("#totaal-verbeterd").inner_text() == "1"
        # six charts drawn as inline SVG, with bars, visible on the page
        charts = page.locator("svg[role=img]")
        assert charts.count() == 6
        box = charts.first.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 100
        assert page.locator("svg[role=img] rect").count() >= 6
        # the numbers behind a chart: open its table with the keyboard
        summary = page.locator("#kop-categorie ~ details summary")
        summary.focus()
        page.keyboard.press("Enter")
        table = page.locator("#tabel-categorie")
        assert table.is_visible()
        last = table.locator("tbody tr").last.locator("td").all_inner_texts()
        assert last[-1] == "6" and sum(int(x) for x in last[:-1]) == 6
        assert int(last[3]) == 1  # crisis
        live_console.screenshot(page, "beheer_dashboard")

        # the period selector, by keyboard only
        page.get_by_label("Periode", exact=True).select_option("4")
        page.get_by_role("button", name="Toon").focus()
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/beheer\?weken=4$"))
        assert page.locator("#totaal-vragen").inner_text() == "6"
        assert page.locator("#tabel-kanaal tbody tr").count() == 4

        # the report, through the menu
        page.get_by_role("link", name="Rapportage").click()
        page.wait_for_url(re.compile(r"/beheer/rapport"))
        assert page.locator("#kanaal-mail").inner_text() == "4"
        assert page.locator("#kanaal-partners").inner_text() == "1"
        assert page.locator("#kanaal-telefoon").inner_text() == "1"
        assert page.locator("#kanaal-totaal").inner_text() == "6"
        assert page.locator("#aard-crisis").inner_text() == "1"
        met = int(page.locator("#aard-enkelvoudig_met").inner_text()) + int(
            page.locator("#aard-meervoudig_met").inner_text())
        assert met == 1 and page.locator("#aard-totaal").inner_text() == "6"
        live_console.screenshot(page, "beheer_rapport")
        with page.expect_download() as dl:
            page.get_by_role("link", name="Download beide tabellen (CSV)").click()
        data = Path(dl.value.path()).read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") and b"Partners;1;" in data
    finally:
        page.close()


def _tiny_training_data(root: Path) -> Path:
    """Every tenth labelled message (a model trains on it in seconds)."""
    lines = []
    for f in sorted((REPO / "training_data" / "messages").glob("*.jsonl")):
        lines += [line for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    (root / "messages").mkdir(parents=True)
    (root / "messages" / "tiny.jsonl").write_text("\n".join(lines[::10]) + "\n", encoding="utf-8")
    (root / "kennisbank").mkdir()
    shutil.copy(REPO / "training_data" / "kennisbank" / "answers.jsonl", root / "kennisbank")
    return root


def test_model_page_trains_refuses_activates_and_rolls_back(live_console, chromium, tmp_path):
    from triage.retrain import RetrainJob

    svc = live_console.service
    fill(live_console)
    # the job as `triage serve` makes it, on a small training set so that it takes seconds
    svc.retrain = RetrainJob(svc.registry, _tiny_training_data(tmp_path / "data_small"), live_console.store.url)
    good = crafted_version(svc.registry, "20991231-000001", n_corrections=1)
    page = live_console.login_page(chromium, "beheer")
    try:
        page.set_viewport_size({"width": 1280, "height": 900})
        page.get_by_role("link", name="Model").click()
        page.wait_for_url(re.compile(r"/beheer/model$"))
        assert page.locator("#actieve-versie").inner_text() == "meegeleverd"
        assert page.locator("#verbeterde-zaken").inner_text() == "1"

        # train: the button (keyboard), then htmx asks for the status every 2 s until it is done
        button = page.get_by_role("button", name="Nieuw model trainen met de correcties")
        button.focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        status = page.locator("#training-status")
        assert "De training loopt" in status.inner_text()
        assert status.get_attribute("hx-trigger") == "every 2s"
        page.wait_for_function("() => document.body.innerText.includes('De laatste training is klaar')",
                               timeout=240_000, polling=500)
        assert page.url.endswith("/beheer/model")
        done = svc.retrain.status()
        assert done["state"] == "done" and done["actor"] == "beheer"
        new = done["version"]
        info = svc.registry.info(new)
        assert info["n_corrections"] == 1 and info["created_by"] == "beheer"
        assert page.locator("section.beheer-version h3", has_text=f"Versie {new}").count() == 1
        table = page.locator(f"[id='cijfers-{new}']")
        assert table.locator("th", has_text="Crisis herkend").count() == 1
        assert table.locator("td[data-maat=crisis_recall]").inner_text().endswith("%")

        # the small model misses crisis messages: activating it is refused, with the reason
        assert info["metrics"]["crisis_recall"] < 0.95
        with page.expect_navigation():
            page.get_by_role("button", name=f"Activeren: versie {new}").click()
        alert = page.locator("#model-fout")
        assert "van de crisisberichten" in alert.inner_text() and "Het huidige model blijft actief" in alert.inner_text()
        assert alert.get_attribute("role") == "alert"
        assert svc.model_version == "shipped"
        live_console.screenshot(page, "beheer_model")  # the new version beside the active one, and the refusal

        # a good version: activated at once
        with page.expect_navigation():
            page.get_by_role("button", name=f"Activeren: versie {good}").click()
        assert page.locator("#actieve-versie").inner_text() == good
        assert f"Versie {good} is nu actief" in page.locator("#model-gedaan").inner_text()
        assert svc.model_version == good

        # roll back
        with page.expect_navigation():
            page.get_by_role("button", name="Terugdraaien naar het meegeleverde model").click()
        assert page.locator("#actieve-versie").inner_text() == "meegeleverd"
        assert svc.model_version == "shipped"
        assert "Er is geen eerder model" in page.locator("main").inner_text()
    finally:
        page.close()
