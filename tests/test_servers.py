"""Checks of the real-server test infrastructure in tests/servers.py."""

import socket
import time
from email.message import EmailMessage

import pytest

from servers import (
    ServerUnavailable,
    _unavailable,
    append_message,
    clear_mailbox,
    dovecot,
    dovecot_server,  # noqa: F401  (fixture)
    fresh_database,
    postgres,
    postgres_server,  # noqa: F401  (fixture)
    postgres_url,  # noqa: F401  (fixture)
    to_libpq,
)

try:
    from imapclient import IMAPClient
except ImportError:  # pragma: no cover - imapclient is a project dependency
    IMAPClient = None

needs_imapclient = pytest.mark.skipif(IMAPClient is None, reason="imapclient not installed")


def _mail(subject: str, body: str = "Goedendag, ik heb een vraag over de Wmo.") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Inwoner <inwoner@example.org>"
    msg["To"] = "wijkteam@example.org"
    msg["Subject"] = subject
    msg.set_content(body)
    return msg.as_bytes()


def _client(info) -> "IMAPClient":
    client = IMAPClient(info.host, port=info.port, ssl=False, timeout=10)
    client.login(info.user, info.password)
    return client


def _accepts(host, port) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------- Dovecot


@needs_imapclient
def test_dovecot_login_append_search(dovecot_server):
    info = dovecot_server
    assert info.host == "127.0.0.1" and info.user == "triage"
    client = _client(info)
    try:
        assert client.select_folder("INBOX")[b"EXISTS"] == 0  # a fresh mailbox per test
        uid = append_message(info, _mail("Vraag over traplift"))
        append_message(info, _mail("Iets anders"))
        client.noop()
        found = client.search(["SUBJECT", "traplift"])
        assert found == [uid]
        body = client.fetch(found, ["RFC822"])[uid][b"RFC822"]
        assert b"Subject: Vraag over traplift" in body
        assert b"vraag over de Wmo" in body
    finally:
        client.logout()
    # The mail is really in the Maildir on disk.
    files = list((info.maildir / "new").iterdir()) + list((info.maildir / "cur").iterdir())
    assert len(files) == 2


@needs_imapclient
def test_dovecot_wrong_password_is_refused(dovecot_server):
    client = IMAPClient(dovecot_server.host, port=dovecot_server.port, ssl=False, timeout=10)
    try:
        with pytest.raises(Exception):
            client.login(dovecot_server.user, "wrong-" + dovecot_server.password)
    finally:
        client.shutdown()


@needs_imapclient
def test_dovecot_idle_returns_when_second_connection_appends(dovecot_server):
    client = _client(dovecot_server)
    try:
        client.select_folder("INBOX")
        client.idle()
        t0 = time.monotonic()
        append_message(dovecot_server, _mail("Tijdens IDLE"))  # second connection
        responses = client.idle_check(timeout=10)
        waited = time.monotonic() - t0
        client.idle_done()
        assert (1, b"EXISTS") in responses, responses
        assert waited < 5, f"IDLE took {waited:.1f}s to report the new message"
        assert client.search(["SUBJECT", "IDLE"]) == [1]
    finally:
        client.logout()


@needs_imapclient
def test_append_to_other_folder_and_clear(dovecot_server):
    append_message(dovecot_server, _mail("In archief"), folder="Archief")
    append_message(dovecot_server, _mail("In inbox"))
    client = _client(dovecot_server)
    try:
        assert client.folder_exists("Archief")
        assert client.select_folder("Archief", readonly=True)[b"EXISTS"] == 1
        assert client.select_folder("INBOX", readonly=True)[b"EXISTS"] == 1
    finally:
        client.logout()
    clear_mailbox(dovecot_server)
    client = _client(dovecot_server)
    try:
        assert not client.folder_exists("Archief")
        assert client.select_folder("INBOX", readonly=True)[b"EXISTS"] == 0
    finally:
        client.logout()


def test_dovecot_context_manager_stops_and_cleans_up():
    try:
        cm = dovecot()
        info = cm.__enter__()
    except ServerUnavailable as exc:
        _unavailable(exc)
    try:
        assert _accepts(info.host, info.port)
        assert info.startup_seconds < 10
    finally:
        cm.__exit__(None, None, None)
    assert not _accepts(info.host, info.port)
    assert not info.root.exists()


# --------------------------------------------------------------------------- PostgreSQL


def test_postgres_create_insert_select(postgres_url):
    psycopg = pytest.importorskip("psycopg")
    assert postgres_url.startswith("postgresql+psycopg://triage:")
    with psycopg.connect(to_libpq(postgres_url)) as conn:
        conn.execute("CREATE TABLE berichten (id serial PRIMARY KEY, tekst text NOT NULL)")
        conn.execute("INSERT INTO berichten (tekst) VALUES (%s), (%s)", ("traplift", "schulden"))
        conn.commit()
        rows = conn.execute("SELECT tekst FROM berichten ORDER BY id").fetchall()
        assert rows == [("traplift",), ("schulden",)]
        assert conn.execute("SELECT current_user").fetchone() == ("triage",)


def test_fresh_databases_are_separate_and_empty(postgres_server, postgres_url):
    psycopg = pytest.importorskip("psycopg")
    other = fresh_database(postgres_server)
    assert other != postgres_url
    with psycopg.connect(to_libpq(postgres_url)) as conn:
        conn.execute("CREATE TABLE t (x int)")
    with psycopg.connect(to_libpq(other)) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)


def test_default_database_and_sqlalchemy_url(postgres_server):
    sqlalchemy = pytest.importorskip("sqlalchemy")
    pytest.importorskip("psycopg")
    assert postgres_server.url == (
        f"postgresql+psycopg://triage:{postgres_server.password}@127.0.0.1:{postgres_server.port}/triage")
    engine = sqlalchemy.create_engine(postgres_server.url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("SELECT current_database(), current_user")).one() == (
                "triage", "triage")
    finally:
        engine.dispose()


def test_postgres_stop_start_keeps_data_on_same_port(postgres_server, postgres_url):
    psycopg = pytest.importorskip("psycopg")
    dsn = to_libpq(postgres_url)
    port = postgres_server.port
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE zaken (nr int PRIMARY KEY)")
        conn.execute("INSERT INTO zaken VALUES (1), (2), (3)")
    try:
        postgres_server.stop()
        assert not postgres_server.running
        assert not postgres_server.is_accepting()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(dsn, connect_timeout=3)
    finally:
        postgres_server.start()
    assert postgres_server.port == port
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM zaken").fetchone() == (3,)


def test_fresh_database_restarts_a_stopped_server(postgres_server):
    psycopg = pytest.importorskip("psycopg")
    postgres_server.stop()
    url = fresh_database(postgres_server)
    assert postgres_server.running
    with psycopg.connect(to_libpq(url)) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


# --------------------------------------------------------------------------- missing binaries


def test_missing_postgres_binaries_raise_server_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("PG_BINDIR", str(tmp_path))
    with pytest.raises(ServerUnavailable):
        with postgres():
            pass


def test_missing_binary_skips_outside_ci_and_fails_under_ci(monkeypatch):
    exc = ServerUnavailable("dovecot is not installed")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="dovecot is not installed"):
        _unavailable(exc)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required under CI"):
        _unavailable(exc)
