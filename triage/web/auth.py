"""Console accounts: passwords, login sessions, CSRF, login rate limit, and
the role checks every console page and API route goes through.

- Passwords: Argon2id (argon2-cffi), at least 12 characters.
- Login: a random token in a cookie (HttpOnly, SameSite=Strict, Secure on
  https or when TRIAGE_CONSOLE_SECURE_COOKIE is set); only its SHA-256 is
  stored (table web_session). A login ends after console_session_hours, or
  after console_idle_minutes without a request, or at logout, a new
  password, a new role or a blocked account.
- CSRF: every state-changing request of a logged-in user carries the
  login's CSRF token (form field ``csrf`` or header ``X-CSRF-Token``; the
  console's pages send it with htmx). The login form itself has a
  double-submit token.
- Login rate limit: after 5 failed attempts for one user name or one client
  address within 15 minutes, logins from there wait (HTTP 429).

Routes declare who may use them with ``Depends(require("kcc", ...))``; the
access-matrix test (tests/test_console_access.py) checks every route.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import Request

from ..store import ROLES, Store, User, utcnow

log = logging.getLogger("triage.console")

__all__ = ["hash_password", "verify_password", "Auth", "Principal", "LoginRequired", "Forbidden", "CsrfFailed",
           "require", "required_roles", "COOKIE", "MIN_PASSWORD"]

COOKIE = "triage_session"
LOGIN_CSRF_COOKIE = "triage_login_csrf"
MIN_PASSWORD = 12
_hasher = PasswordHasher()  # Argon2id with the library's current defaults
_DUMMY_HASH = _hasher.hash("not-a-password-" + secrets.token_hex(8))
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
ROLE_NAMES = {"kcc": "KCC", "bureaudienst": "Bureaudienst", "beheer": "Beheer"}


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"Een wachtwoord heeft minstens {MIN_PASSWORD} tekens.")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who makes the request."""

    username: str
    role: str
    display_name: str
    csrf: str
    token_hash: str

    @property
    def role_name(self) -> str:
        return ROLE_NAMES.get(self.role, self.role)


class LoginRequired(Exception):
    """No (valid) login: pages redirect to /login, the API answers 401."""


class Forbidden(Exception):
    """Logged in, but this role may not use this route (403)."""


class CsrfFailed(Exception):
    """A state-changing request without the login's CSRF token (403)."""


class LoginThrottled(Exception):
    def __init__(self, wait_seconds: int):
        super().__init__(wait_seconds)
        self.wait_seconds = wait_seconds


class _RateLimiter:
    def __init__(self, limit: int = 5, window: float = 900.0):
        self.limit, self.window = limit, window
        self._fails: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def wait(self, *keys: str) -> int:
        now = time.monotonic()
        worst = 0
        with self._lock:
            for k in keys:
                q = self._fails[k]
                while q and q[0] < now - self.window:
                    q.popleft()
                if len(q) >= self.limit:
                    worst = max(worst, int(q[0] + self.window - now) + 1)
        return worst

    def fail(self, *keys: str) -> None:
        with self._lock:
            for k in keys:
                self._fails[k].append(time.monotonic())

    def clear(self, key: str) -> None:
        with self._lock:
            self._fails.pop(key, None)


class Auth:
    def __init__(self, store: Store, *, session_hours: float = 10.0, idle_minutes: int = 60,
                 secure_cookie: bool = False, login_limit: int = 5, login_window: float = 900.0):
        self.store = store
        self.session_hours = session_hours
        self.idle_minutes = idle_minutes
        self.secure_cookie = secure_cookie
        self.limiter = _RateLimiter(login_limit, login_window)

    # ----------------------------------------------------------------- login
    def login(self, username: str, password: str, client: str) -> tuple[str, Principal]:
        """Check a password. Returns (cookie token, principal). Raises
        LoginThrottled, or ValueError with a message for the login page."""
        ukey, ckey = f"user:{username.lower()}", f"client:{client}"
        wait = self.limiter.wait(ukey, ckey)
        if wait:
            raise LoginThrottled(wait)
        user = self.store.user_by_name(username) if username else None
        ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)  # same time for unknown users
        if not ok or user is None or not user.active:
            self.limiter.fail(ukey, ckey)
            log.info("console login failed")
            raise ValueError("De gebruikersnaam of het wachtwoord klopt niet.")
        self.limiter.clear(ukey)
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self.store.start_session(user.id, _token_hash(token), csrf, utcnow() + timedelta(hours=self.session_hours))
        log.info("console login (%s)", user.role)
        return token, Principal(user.username, user.role, user.display_name, csrf, _token_hash(token))

    def logout(self, principal: "Principal") -> None:
        self.store.end_session(principal.token_hash, principal.username)

    def principal(self, request: Request) -> Principal | None:
        cached = getattr(request.state, "principal", None)
        if cached is not None:
            return cached
        token = request.cookies.get(COOKIE)
        if not token or len(token) > 100:
            return None
        found = self.store.session_user(_token_hash(token), self.idle_minutes)
        if found is None:
            return None
        user, ws = found
        p = Principal(user.username, user.role, user.display_name, ws.csrf, ws.token_hash)
        request.state.principal = p
        return p

    def cookie_kwargs(self, request: Request) -> dict:
        return {"httponly": True, "samesite": "strict", "path": "/",
                "secure": self.secure_cookie or request.url.scheme == "https"}


def _check_csrf(request: Request, principal: Principal, form_token: str | None) -> None:
    sent = request.headers.get("x-csrf-token") or form_token or ""
    if not hmac.compare_digest(sent.encode(), principal.csrf.encode()):
        raise CsrfFailed()


def require(*roles: str):
    """A dependency: the request's Principal when its role is one of
    ``roles``; for state-changing methods also a valid CSRF token."""
    for r in roles:
        if r not in ROLES:
            raise ValueError(r)

    async def dependency(request: Request) -> Principal:
        auth: Auth = request.app.state.auth
        from starlette.concurrency import run_in_threadpool

        p = await run_in_threadpool(auth.principal, request)
        if p is None:
            raise LoginRequired()
        if p.role not in roles:
            raise Forbidden()
        if request.method not in SAFE_METHODS:
            form_token = None
            if request.headers.get("x-csrf-token") is None:
                ctype = request.headers.get("content-type", "")
                if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
                    form_token = (await request.form()).get("csrf")
            _check_csrf(request, p, form_token if isinstance(form_token, str) else None)
        return p

    dependency.roles = tuple(roles)  # read by the access-matrix test
    return dependency


def required_roles(dependant) -> list[tuple]:
    """The roles of every ``require(...)`` in a route's dependency tree
    (FastAPI's ``route.dependant``): what the access-matrix test and the
    console benchmark read to know who may use a route."""
    found = []
    for d in getattr(dependant, "dependencies", None) or []:
        if hasattr(d.call, "roles"):
            found.append(tuple(d.call.roles))
        found.extend(required_roles(d))
    return found


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def login_csrf_ok(request: Request, form_token: str | None) -> bool:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    return bool(cookie) and bool(form_token) and hmac.compare_digest(cookie.encode(), str(form_token).encode())


def user_from(u: User) -> dict:
    return {"username": u.username, "role": u.role, "display_name": u.display_name, "active": u.active}
