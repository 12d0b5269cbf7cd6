"""Real servers for tests and benchmarks: Dovecot (IMAP) and PostgreSQL.

The context managers here have no pytest dependency, so benchmarks can use
them as well::

    with dovecot() as imap:             # DovecotInfo(host, port, user, password, maildir)
        append_message(imap, raw_bytes)
    with postgres() as pg:              # PostgresInfo(url, ...)
        url = fresh_database(pg)        # postgresql+psycopg://triage:pw@127.0.0.1:PORT/triage_xxx
        pg.stop(); pg.start()           # briefly unavailable, same port, data kept

Thin pytest fixtures live at the bottom of this module. The tests import them
the way they import from conftest::

    from servers import dovecot_server, postgres_server, postgres_url, append_message, fresh_database

When a server binary is missing (pytest run without ``bash .ci/test``), the
fixtures skip with a clear reason, except under CI (env ``CI`` set), where
they fail loudly.

Both servers run as an unprivileged user when the tests run as root (Dovecot
mail processes and PostgreSQL refuse root): the user ``triage-test`` is
created with ``useradd`` when it does not exist yet. Their files live in a
directory every one of those users can reach: ``tmpdir`` when all its parents
are world-traversable and its path is short (Unix socket paths are limited to
~100 bytes), else a fresh directory under the system temp directory that is
removed at exit. pytest's ``tmp_path`` (under ``/tmp/pytest-of-root``, mode
0700) is therefore never used directly.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import grp
import imaplib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

SERVICE_USER = "triage-test"  # created when running as root and missing
IMAP_USER = "triage"
PG_USER = "triage"
PG_DATABASE = "triage"
PG_SUPERUSER = "postgres"
START_TIMEOUT = 30.0
# A clean Dovecot shutdown takes ~1.1 s (the master waits for its log
# process); anything longer is a child stuck on a dead peer: SIGKILL then.
DOVECOT_STOP_GRACE = 3.0


class ServerUnavailable(RuntimeError):
    """A server binary is not installed on this machine (not a test failure as such)."""


class ServerStartError(RuntimeError):
    """The server is installed but did not come up; the message holds its log."""


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class _User:
    name: str
    uid: int
    gid: int


def _is_root() -> bool:
    return os.geteuid() == 0


def service_user() -> _User:
    """The unprivileged user the servers run as (created with useradd if needed)."""
    if not _is_root():
        pw = pwd.getpwuid(os.geteuid())
        return _User(pw.pw_name, pw.pw_uid, pw.pw_gid)
    try:
        pw = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        nologin = "/usr/sbin/nologin" if os.path.exists("/usr/sbin/nologin") else "/bin/false"
        proc = subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home",
             "--home-dir", "/nonexistent", "--shell", nologin, SERVICE_USER],
            capture_output=True, text=True,
        )
        try:  # another worker may have created it at the same moment
            pw = pwd.getpwnam(SERVICE_USER)
        except KeyError:
            raise ServerStartError(f"could not create user {SERVICE_USER}: {proc.stderr.strip()}") from None
    return _User(pw.pw_name, pw.pw_uid, pw.pw_gid)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _world_traversable(path: Path) -> bool:
    path = path.resolve()
    for p in [path, *path.parents]:
        try:
            if not os.stat(p).st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


def _make_server_root(tmpdir, prefix: str) -> Path:
    """A private directory (mode 0755) that the unprivileged server users can reach."""
    base = Path(tmpdir) if tmpdir is not None else None
    if base is not None and (not _world_traversable(base) or len(str(base.resolve())) > 60):
        base = None
    root = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    os.chmod(root, 0o755)
    return root


@contextlib.contextmanager
def _server_root(tmpdir, prefix: str) -> Iterator[Path]:
    root = _make_server_root(tmpdir, prefix)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _chown_tree(path: Path, user: _User) -> None:
    if not _is_root():
        return
    os.chown(path, user.uid, user.gid)
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), user.uid, user.gid, follow_symlinks=False)


_background_stops: list[threading.Thread] = []


def _stop_in_background(proc: subprocess.Popen, root: Path, grace: float) -> None:
    """SIGTERM now (the port closes at once); wait, kill and clean up in a thread.

    Dovecot's master lingers ~1 s after SIGTERM waiting for its log process;
    a per-test fixture should not pay that. Interpreter exit joins the threads,
    so no server outlives the test run.
    """
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)

    def finish() -> None:
        _stop_process(proc, grace)
        shutil.rmtree(root, ignore_errors=True)

    t = threading.Thread(target=finish, name=f"stop-{proc.pid}", daemon=True)
    t.start()
    _background_stops[:] = [x for x in _background_stops if x.is_alive()] + [t]


@atexit.register
def wait_for_background_stops() -> None:
    for t in list(_background_stops):
        t.join(timeout=20)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL the whole process group."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # stray children of a killed master
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


# --------------------------------------------------------------------------- Dovecot


@dataclass
class DovecotInfo:
    host: str
    port: int
    user: str
    password: str
    maildir: Path
    root: Path = field(repr=False, default=None)
    log_path: Path = field(repr=False, default=None)
    startup_seconds: float = field(repr=False, default=0.0)

    def log(self) -> str:
        return _tail(self.log_path, 200)


def find_dovecot() -> str:
    exe = shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.access(p, os.X_OK)), None)
    if not exe:
        raise ServerUnavailable(
            "dovecot is not installed (Debian: apt-get install dovecot-imapd; `bash .ci/test` does it)")
    return exe


def _dovecot_config(root: Path, port: int, mail_user: _User, internal: str, login: str) -> str:
    run_dir = root / "run"
    group = ""
    chroots = ""
    if _is_root():
        # The processes that read the passwd-file / write mail.
        ids = f"mail_uid = {mail_user.uid}\nmail_gid = {mail_user.gid}\n"
    else:  # an unprivileged Dovecot cannot chroot
        ids = ""
        chroots = "service imap-login {\n  chroot =\n}\nservice anvil {\n  chroot =\n}\n"
        group = f"default_internal_group = {grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name}\n"
    return f"""# Written by tests/servers.py: throw-away Dovecot for one test.
protocols = imap
listen = 127.0.0.1
base_dir = {run_dir}
state_dir = {root / "state"}
instance_name = triage-test-{port}
log_path = {root / "dovecot.log"}
info_log_path = {root / "dovecot.log"}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_login_user = {login}
{group}{ids}first_valid_uid = {max(1, min(mail_user.uid, 500))}
first_valid_gid = 1
mail_location = maildir:~/Maildir
mail_fsync = never
mailbox_idle_check_interval = 1 secs
imap_idle_notify_interval = 10 secs
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
shutdown_clients = yes
# No stats-writer connections: a login process that is still handshaking with
# the (already stopped) stats process at shutdown would wait 5 s for it.
stats_writer_socket_path =

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root / "passwd"}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root / "passwd"}
}}

service imap-login {{
  # One long-lived login process (started with the server) instead of one per
  # connection: a login process forked while the server shuts down would
  # block 5 s on its handshake with the already stopped anvil.
  service_count = 0
  process_min_avail = 1
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
{chroots}"""


def _imap_login_works(host: str, port: int, user: str, password: str) -> bool:
    try:
        imap = imaplib.IMAP4(host, port, timeout=3)
    except (OSError, imaplib.IMAP4.error):
        return False
    try:
        imap.login(user, password)
        imap.logout()
        return True
    except (imaplib.IMAP4.error, OSError):
        with contextlib.suppress(Exception):
            imap.shutdown()
        return False


@contextlib.contextmanager
def dovecot(tmpdir=None, *, user: str = IMAP_USER, password: str | None = None,
            wait_on_exit: bool = True) -> Iterator[DovecotInfo]:
    """A real Dovecot (IMAP only, plaintext auth, no SSL) on 127.0.0.1:<free port>.

    One user (``triage`` / random password) whose mail lives in a Maildir in
    the temporary folder. Stopped with SIGTERM (then SIGKILL) at exit; with
    ``wait_on_exit=False`` the exit returns right after SIGTERM (the port is
    closed by then) and the rest of the shutdown happens in a thread.
    """
    exe = find_dovecot()
    mail_user = service_user()
    if _is_root():
        internal = "dovecot" if _user_exists("dovecot") else mail_user.name
        login = "dovenull" if _user_exists("dovenull") else mail_user.name
    else:
        internal = login = mail_user.name
    password = password or secrets.token_urlsafe(12)

    root = _make_server_root(tmpdir, "triage-dovecot-")
    proc = None
    try:
        home = root / "home" / user
        maildir = home / "Maildir"
        for sub in ("cur", "new", "tmp"):
            (maildir / sub).mkdir(parents=True)
        _chown_tree(root / "home", mail_user)
        (root / "state").mkdir()
        passwd = root / "passwd"
        passwd.write_text(f"{user}:{{PLAIN}}{password}:{mail_user.uid}:{mail_user.gid}::{home}::\n")
        os.chmod(passwd, 0o644)
        log_path = root / "dovecot.log"

        t0 = time.monotonic()
        port = 0
        for attempt in range(5):
            port = free_port()
            config = root / "dovecot.conf"
            config.write_text(_dovecot_config(root, port, mail_user, internal, login))
            os.chmod(config, 0o644)
            log_path.unlink(missing_ok=True)  # a failed attempt's "Fatal:" must not count again
            with open(root / "dovecot.stderr", "wb") as err:
                proc = subprocess.Popen(
                    [exe, "-F", "-c", str(config)],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                    start_new_session=True,
                )
            try:
                _wait_for_dovecot(proc, port, user, password, log_path, root)
                break
            except ServerStartError as exc:
                _stop_process(proc)
                if "in use" in str(exc) and attempt < 4:
                    continue
                raise
        info = DovecotInfo("127.0.0.1", port, user, password, maildir, root, log_path,
                           time.monotonic() - t0)
        yield info
    finally:
        if proc is not None and not wait_on_exit:
            _stop_in_background(proc, root, DOVECOT_STOP_GRACE)
        else:
            if proc is not None:
                _stop_process(proc, DOVECOT_STOP_GRACE)
            shutil.rmtree(root, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _wait_for_dovecot(proc, port, user, password, log_path: Path, root: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = _tail(log_path) + "\n" + _tail(root / "dovecot.stderr")
            raise ServerStartError(f"dovecot exited with {proc.returncode}:\n{log}")
        if _port_accepts("127.0.0.1", port) and _imap_login_works("127.0.0.1", port, user, password):
            return
        log = _tail(log_path)
        if "Fatal:" in log:
            raise ServerStartError(f"dovecot failed to start:\n{log}")
        time.sleep(0.05)
    raise ServerStartError(f"dovecot did not accept an IMAP LOGIN within {START_TIMEOUT}s:\n{_tail(log_path)}")


def append_message(info: DovecotInfo, raw_bytes: bytes, folder: str = "INBOX", flags: str = "") -> int | None:
    """APPEND one raw RFC 5322 message over IMAP (imaplib); returns its UID when the server says it."""
    if isinstance(raw_bytes, str):
        raw_bytes = raw_bytes.encode("utf-8")
    imap = imaplib.IMAP4(info.host, info.port, timeout=10)
    try:
        imap.login(info.user, info.password)
        if folder.upper() != "INBOX":
            imap.create(_quote(folder))  # "already exists" is a NO, not an exception
        typ, data = imap.append(_quote(folder), f"({flags})" if flags else None, None, raw_bytes)
        if typ != "OK":
            raise RuntimeError(f"APPEND to {folder} failed: {data!r}")
        m = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
        return int(m.group(1)) if m else None
    finally:
        with contextlib.suppress(Exception):
            imap.logout()


def clear_mailbox(info: DovecotInfo) -> None:
    """Delete every message and every folder except INBOX (for a reused server)."""
    imap = imaplib.IMAP4(info.host, info.port, timeout=10)
    try:
        imap.login(info.user, info.password)
        typ, folders = imap.list()
        names = []
        for line in folders or []:
            m = re.match(rb'\(.*?\) (?:"[^"]*"|NIL) (.*)$', line or b"")
            if m:
                names.append(m.group(1).decode().strip('"'))
        for name in names:
            if name.upper() != "INBOX":
                imap.delete(_quote(name))
        imap.select("INBOX")
        imap.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
        imap.expunge()
    finally:
        with contextlib.suppress(Exception):
            imap.logout()


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --------------------------------------------------------------------------- PostgreSQL


def find_pg_bindir() -> Path:
    """The newest /usr/lib/postgresql/<ver>/bin (or PG_BINDIR, or initdb on PATH)."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: [int(x) for x in re.findall(r"\d+", p.split("/")[4])] or [0])
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    raise ServerUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) are not installed "
        "(Debian: apt-get install postgresql; `bash .ci/test` does it)")


class PostgresInfo:
    """A running throw-away PostgreSQL cluster.

    ``url`` is the SQLAlchemy URL of database ``triage`` owned by role ``triage``
    (``postgresql+psycopg://triage:pw@127.0.0.1:PORT/triage``); ``dsn`` is the
    same for libpq/psycopg.connect. ``stop()``/``start()`` take the server
    down and bring it back on the same port with its data.
    """

    def __init__(self, root: Path, bindir: Path, user: _User, port: int, password: str, admin_password: str):
        self.root = root
        self.bindir = bindir
        self.os_user = user
        self.host = "127.0.0.1"
        self.port = port
        self.user = PG_USER
        self.password = password
        self.database = PG_DATABASE
        self.admin_user = PG_SUPERUSER
        self.admin_password = admin_password
        self.data_dir = root / "data"
        self.socket_dir = root / "sock"
        self.log_path = root / "postgres.log"
        self.running = False
        self.startup_seconds = 0.0

    def __repr__(self) -> str:
        return f"PostgresInfo(url={self.url!r})"

    @property
    def url(self) -> str:
        return self.url_for(self.database)

    @property
    def dsn(self) -> str:
        return to_libpq(self.url)

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://{self.admin_user}:{self.admin_password}@{self.host}:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def log(self) -> str:
        return _tail(self.log_path, 200)

    # -- process control
    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if _is_root():
            cmd = ["runuser", "-u", self.os_user.name, "--", *cmd]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C")
        proc = subprocess.run(cmd, cwd=self.root, env=env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise ServerStartError(
                f"{' '.join(args[:1])} failed ({proc.returncode}): {proc.stdout}{proc.stderr}\n"
                f"--- postgres log ---\n{_tail(self.log_path)}")
        return proc

    def _server_options(self) -> str:
        return (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir} "
                f"-c fsync=off -c full_page_writes=off -c max_connections=100")

    def start(self) -> None:
        """Start (again) on the same port; waits until connections are accepted."""
        if self.running:
            return
        t0 = time.monotonic()
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path), "-w",
                  "-t", str(int(START_TIMEOUT)), "-o", self._server_options(), "start")
        self.running = True
        self.startup_seconds = time.monotonic() - t0

    def stop(self) -> None:
        """Stop at once (pg_ctl stop -m immediate); connections drop, committed data stays."""
        if not self.running:
            return
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop", check=False)
        self.running = False

    def is_accepting(self) -> bool:
        return _port_accepts(self.host, self.port)


def to_libpq(url: str) -> str:
    """postgresql+psycopg://... (SQLAlchemy) -> postgresql://... (psycopg.connect / libpq)."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def _psycopg():
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        raise ServerUnavailable("psycopg is not installed (pip install -e '.[test]')") from exc
    return psycopg


@contextlib.contextmanager
def postgres(tmpdir=None) -> Iterator[PostgresInfo]:
    """A real PostgreSQL on 127.0.0.1:<free port> with database ``triage`` and role ``triage``.

    initdb in a temporary folder as an unprivileged user (runuser), started with
    ``pg_ctl -o "-c listen_addresses=127.0.0.1 -p PORT -k SOCKDIR -c fsync=off"``,
    stopped with ``pg_ctl stop -m immediate`` at exit.
    """
    bindir = find_pg_bindir()
    for tool in ("initdb", "pg_ctl", "postgres"):
        if not os.access(bindir / tool, os.X_OK):
            raise ServerUnavailable(f"{bindir / tool} is missing (Debian: apt-get install postgresql)")
    psycopg = _psycopg()
    os_user = service_user()
    with _server_root(tmpdir, "triage-pg-") as root:
        t0 = time.monotonic()
        info = PostgresInfo(root, bindir, os_user, 0, secrets.token_urlsafe(12), secrets.token_urlsafe(12))
        info.socket_dir.mkdir()
        pwfile = root / "pwfile"
        pwfile.write_text(info.admin_password + "\n")
        _chown_tree(root, os_user)
        info._run("initdb", "-D", str(info.data_dir), "-U", PG_SUPERUSER, "--pwfile", str(pwfile),
                  "-E", "UTF8", "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256",
                  "--no-sync", "--no-instructions")
        pwfile.unlink()
        try:
            for attempt in range(5):
                info.port = free_port()
                try:
                    info.start()
                    break
                except ServerStartError as exc:
                    if attempt < 4 and "in use" in str(exc):
                        continue
                    raise
            with psycopg.connect(info.admin_dsn, autocommit=True, connect_timeout=10) as conn:
                conn.execute(f"CREATE ROLE {PG_USER} LOGIN CREATEDB PASSWORD '{info.password}'")
                conn.execute(f"CREATE DATABASE {PG_DATABASE} OWNER {PG_USER}")
            info.startup_seconds = time.monotonic() - t0
            yield info
        finally:
            info.running = True  # always try: the postmaster may be up although start() raised
            info.stop()


def fresh_database(info: PostgresInfo, name: str | None = None) -> str:
    """Create an empty database owned by ``triage``; returns its SQLAlchemy URL.

    Starts the server first if a test left it stopped.
    """
    psycopg = _psycopg()
    if not info.running:
        info.start()
    name = name or f"triage_{secrets.token_hex(6)}"
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"database name {name!r}: use [a-z0-9_]")
    with psycopg.connect(info.admin_dsn, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f"CREATE DATABASE {name} OWNER {info.user}")
    return info.url_for(name)


# --------------------------------------------------------------------------- pytest fixtures

try:
    import pytest
except ImportError:  # benchmarks without pytest: the context managers above still work
    pytest = None


def _under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(exc: ServerUnavailable):
    if _under_ci():
        pytest.fail(f"{exc} -- required under CI (CI={os.environ.get('CI')!r})", pytrace=False)
    pytest.skip(str(exc))


if pytest is not None:

    @pytest.fixture
    def dovecot_server() -> Iterator[DovecotInfo]:
        """A fresh Dovecot with an empty Maildir for each test (start ~0.1 s, stop in the background)."""
        try:
            cm = dovecot(wait_on_exit=False)
            info = cm.__enter__()
        except ServerUnavailable as exc:
            _unavailable(exc)
        try:
            yield info
        finally:
            cm.__exit__(None, None, None)

    @pytest.fixture(scope="session")
    def postgres_server() -> Iterator[PostgresInfo]:
        """One PostgreSQL for the whole session; use fresh_database() or postgres_url per test."""
        try:
            cm = postgres()
            info = cm.__enter__()
        except ServerUnavailable as exc:
            _unavailable(exc)
        try:
            yield info
        finally:
            cm.__exit__(None, None, None)

    @pytest.fixture
    def postgres_url(postgres_server: PostgresInfo) -> str:
        """SQLAlchemy URL of a new, empty database on the session's PostgreSQL."""
        return fresh_database(postgres_server)
