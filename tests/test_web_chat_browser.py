"""The web chat widget in a real headless Chromium (Playwright, the system's
/usr/bin/chromium; no browser is downloaded): the demo page /chat opens the
widget, the resident types with the keyboard and reads the answer."""

from pathlib import Path

import pytest

from test_web_chat import Server, server  # noqa: F401  (fixture)

OUTPUT = Path(__file__).resolve().parent / "output"


@pytest.fixture
def browser(chromium):
    """The one headless Chromium of the test run (conftest: two Playwright
    sync sessions cannot run in one thread)."""
    return chromium


def test_demo_page_widget_answers_a_typed_question_and_resumes_after_reload(server, browser, triage):
    # bypass_csp only lets Playwright's own wait_for_function expressions run
    # (the server's Content-Security-Policy forbids eval); the widget itself
    # runs under the policy, and a CSP violation would show in `errors`
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
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
    context.close()


def test_widget_runs_under_the_servers_content_security_policy(server, browser):
    page = browser.new_page()
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"http://127.0.0.1:{server.port}/chat")
    page.locator(".swt-chat-msg.assistent").first.wait_for(timeout=15000)
    page.get_by_label("Uw bericht").fill("Hoe vraag ik huishoudelijke hulp aan?")
    page.keyboard.press("Enter")
    page.locator(".swt-chat-msg.assistent").nth(2).wait_for(timeout=15000)
    assert violations == []
    page.close()
