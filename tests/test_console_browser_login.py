"""Logging in to the console in a real headless Chromium, with the keyboard."""


def test_login_with_the_keyboard_per_role(live_console, chromium):
    for role, home in (("kcc", "/kcc"), ("bureaudienst", "/bureaudienst"), ("beheer", "/beheer")):
        page = chromium.new_page()
        page.goto(f"{live_console.url}{home}")  # not logged in: to the login page, and back after it
        assert page.url.startswith(f"{live_console.url}/login")
        page.keyboard.type(role)  # the user name field has the focus
        page.keyboard.press("Tab")
        from conftest import PASSWORDS

        page.keyboard.type(PASSWORDS[role])
        page.keyboard.press("Enter")
        page.wait_for_url(f"{live_console.url}{home}")
        assert f"Test {role}" in page.content()
        page.close()


def test_wrong_password_shows_a_message(live_console, chromium):
    page = chromium.new_page()
    page.goto(f"{live_console.url}/login")
    page.get_by_label("Gebruikersnaam").fill("kcc")
    page.get_by_label("Wachtwoord").fill("dit-is-niet-goed")
    page.get_by_role("button", name="Inloggen").click()
    assert "klopt niet" in page.get_by_role("alert").inner_text()
    live_console.screenshot(page, "login_fout")
    page.close()
