"""The web chat widget in a real headless Chromium (Playwright, the system's
/usr/bin/chromium; no browser is downloaded): the demo page /chat opens the
widget, the resident types with the keyboard and reads the answer."""

import os
import shutil
from pathlib import Path

import pytest

from test_web_chat import Server, server  # noqa: F401  (fixture)

CHROMIUM = os.environ.get("TRIAGE_TEST_CHROMIUM", "/usr/bin/chromium")
OUTPUT = Path(__file__).resolve().parent / "output"


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")  # in the test extra
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


def test_demo_page_widget_answers_a_typed_question_and_resumes_after_reload(server, browser, triage):
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"http://127.0.0.1:{server.port}/chat")
    log = page.get_by_role("log", name="Gesprek")
    page.wait_for_function("document.querySelectorAll('.swt-chat-msg.assistent').length >= 1", timeout=15000)
    assert "Privacy" in log.inner_text()
    box = page.get_by_label("Uw bericht")
    assert box.evaluate("el => el === document.activeElement")  # the widget puts the focus in the text box
    page.keyboard.type("Hoe vraag ik huishoudelijke hulp aan?")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelectorAll('.swt-chat-msg.assistent').length >= 3", timeout=15000)
    text = log.inner_text()
    assert "Hoe vraag ik huishoudelijke hulp aan?" in text and "Heeft dit uw vraag beantwoord?" in text
    assert "14 0223" in text
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "web_chat.png"), full_page=True)
    # a reload resumes the conversation from the session token
    page.reload()
    page.wait_for_function("document.querySelectorAll('.swt-chat-msg.inwoner').length >= 1", timeout=15000)
    assert "Heeft dit uw vraag beantwoord?" in log.inner_text() and log.inner_text().count("Privacy") == 1
    # Escape closes the chat and returns the focus to the button
    page.keyboard.press("Escape")
    toggle = page.get_by_role("button", name="Chat met het wijkteam")
    assert toggle.is_visible() and toggle.evaluate("el => el === document.activeElement")
    assert errors == []
    page.close()
