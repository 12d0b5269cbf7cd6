"""Console login, logout, sessions, CSRF and the login rate limit."""

from conftest import PASSWORDS


def test_login_per_role_lands_on_its_home(console):
    for role, home in (("kcc", "/kcc"), ("bureaudienst", "/bureaudienst"), ("beheer", "/beheer")):
        c = console.client(role)
        r = c.get("/console")
        assert r.status_code == 303 and r.headers["location"] == home
        page = c.get(home)
        assert page.status_code == 200 and f"Test {role}" in page.text
        cookie = [h for h in c.cookies.jar if h.name == "triage_session"][0]
        assert cookie.has_nonstandard_attr("HttpOnly")


def test_no_login_redirects_pages_and_refuses_api(console):
    c = console.client()
    r = c.get("/kcc")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/kcc")
    assert c.get("/login").status_code == 200


def test_wrong_password_and_unknown_user_read_the_same(console):
    c = console.client()
    c.get("/login")
    tok = c.cookies.get("triage_login_csrf", path="/login")
    a = c.post("/login", data={"username": "kcc", "password": "fout-fout-fout", "csrf": tok})
    b = c.post("/login", data={"username": "niemand", "password": "fout-fout-fout", "csrf": tok})
    assert a.status_code == b.status_code == 401
    assert "klopt niet" in a.text and "klopt niet" in b.text
    assert "triage_session" not in c.cookies


def test_login_without_form_token_is_refused(console):
    c = console.client()
    r = c.post("/login", data={"username": "kcc", "password": PASSWORDS["kcc"], "csrf": "x"})
    assert r.status_code == 400 and "triage_session" not in c.cookies


def test_login_rate_limit(console):
    c = console.client()
    c.get("/login")
    tok = c.cookies.get("triage_login_csrf", path="/login")
    codes = [c.post("/login", data={"username": "beheer", "password": "verkeerd-wachtwoord", "csrf": tok}).status_code
             for _ in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    # even the right password waits now
    r = c.post("/login", data={"username": "beheer", "password": PASSWORDS["beheer"], "csrf": tok})
    assert r.status_code == 429 and "Te veel" in r.text


def test_post_without_csrf_is_refused_and_logout_ends_the_session(console):
    c = console.client("kcc")
    assert c.post("/logout").status_code == 403
    assert c.get("/kcc").status_code == 200
    r = c.post("/logout", data={"csrf": c.csrf})
    assert r.status_code == 303
    # the old cookie no longer works, even when sent again
    assert c.get("/kcc").status_code == 303


def test_blocked_user_loses_the_session(console):
    c = console.client("kcc")
    console.store.update_user("kcc", "test", active=False)
    assert c.get("/kcc").status_code == 303


def test_events_for_login_and_logout(console):
    from sqlmodel import select

    from triage.store import Event

    c = console.client("bureaudienst")
    c.post("/logout", data={"csrf": c.csrf})
    with console.store.session() as s:
        actions = [e.action for e in s.exec(select(Event).where(Event.actor == "bureaudienst")).all()]
    assert [a for a in actions if a in ("login", "logout")][-2:] == ["login", "logout"]


def test_login_page_tells_how_to_make_the_first_account(tmp_path, triage):
    from triage.config import get_settings
    from triage.service import Service
    from triage.web.app import create_app
    from fastapi.testclient import TestClient

    service = Service(get_settings(data_dir=tmp_path / "d", smtp_enabled=False, workers=0)).start(triage=triage)
    try:
        with TestClient(create_app(triage=triage, service=service)) as c:
            assert "triage users add" in c.get("/login").text
    finally:
        service.stop()


def test_users_cli_adds_a_user_who_can_log_in(console, tmp_path):
    import subprocess
    import sys

    env = {**__import__("os").environ, "TRIAGE_DB_URL": console.store.url}
    r = subprocess.run([sys.executable, "-m", "triage", "users", "add", "anna", "--role", "kcc", "--name", "Anna de Vries",
                        "--password-stdin"], input="een-lang-wachtwoord\n", capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    short = subprocess.run([sys.executable, "-m", "triage", "users", "add", "bob", "--role", "kcc", "--password-stdin"],
                           input="kort\n", capture_output=True, text=True, env=env)
    assert short.returncode == 2 and "12" in short.stderr
    u = console.store.user_by_name("anna")
    assert u.role == "kcc" and u.password_hash.startswith("$argon2id$")
    assert console.store.user_by_name("bob") is None
    c = console.client()
    c.get("/login")
    r = c.post("/login", data={"username": "anna", "password": "een-lang-wachtwoord",
                               "csrf": c.cookies.get("triage_login_csrf", path="/login")})
    assert r.status_code == 303 and r.headers["location"] == "/kcc"
