"""The console's shared parts: templates, login and logout, the home page
per role, error pages, and the rule which role may see which case.

Pages are Jinja2 templates (triage/web/templates) with htmx
(triage/web/static/htmx.min.js, vendored: no CDN). Every page works without
JavaScript too; htmx only saves page loads. Role routers live in kcc.py,
bureaudienst.py and beheer.py; each route declares its roles with
``Depends(require(...))``; tests/test_console_access.py checks every route
for every role and for no login.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from sqlmodel import select

from ..store import Case, CaseNotFound, Store
from .auth import (COOKIE, LOGIN_CSRF_COOKIE, Auth, CsrfFailed, Forbidden, LoginRequired, LoginThrottled, Principal,
                   login_csrf_ok, new_login_csrf, require)

log = logging.getLogger("triage.console")

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))

HOME = {"kcc": "/kcc", "bureaudienst": "/bureaudienst", "beheer": "/beheer"}
CATEGORY_NAMES = {"info_advies": "Informatie en advies", "enkelvoudig": "Enkelvoudig", "meervoudig": "Meervoudig",
                  "crisis": "Crisis"}
DOMAIN_NAMES = {"jeugd": "Jeugd", "ggz": "GGZ", "schulden": "Schulden", "werk_inkomen": "Werk en inkomen",
                "wmo": "Wmo", "wonen": "Wonen", "veiligheid": "Veiligheid", "verslaving": "Verslaving"}
ROUTE_NAMES = {"auto_answer": "Standaardantwoord", "kcc_review": "KCC beoordeelt", "bureaudienst": "Bureaudienst",
               "crisis": "Crisis"}
KANAAL_NAMES = {"email": "Mail", "phone": "Telefoon", "chat": "Chat", "partner": "Partner"}
STATUS_NAMES = {"open": "Open", "answered": "Beantwoord", "accepted": "Aangenomen", "closed": "Gesloten"}


CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


def can_view_case(role: str, case: Case) -> bool:
    """The one rule for case data: the KCC sees the cases in its queue, the
    bureaudienst the cases in its queue; beheer sees no case data, only
    counts. A case moves between queues by forwarding and returning."""
    if role == "kcc":
        return case.queue == "kcc"
    if role == "bureaudienst":
        return case.queue == "bureaudienst"
    return False


NUMBER_RX = re.compile(r"SWT-\d{4}-\d{6}")


def visible_case(store: Store, role: str, number: str) -> Case:
    """The case when this role may see it (can_view_case) and it still holds
    its data; CaseNotFound otherwise — also for a malformed number or a case
    of another queue, so callers answer 404 and numbers cannot be probed."""
    if not NUMBER_RX.fullmatch(number or ""):
        raise CaseNotFound(number)
    with store.session() as s:
        c = s.exec(select(Case).where(Case.number == number)).first()
    if c is None or not can_view_case(role, c) or c.anonymised_at is not None:
        raise CaseNotFound(number)
    return c


def aware(when: datetime | None) -> datetime | None:
    """A stored time as timezone-aware UTC (SQLite returns naive times)."""
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def age_text(when: datetime | None, now: datetime | None = None) -> str:
    """'12 min', '3 uur', '2 dagen' for how long a case waits."""
    if when is None:
        return ""
    now = now or datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    minutes = max(0, int((now - when).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} uur"
    return f"{minutes // 1440} dagen"


try:
    from zoneinfo import ZoneInfo

    LOCAL_TZ = ZoneInfo("Europe/Amsterdam")  # the municipality's time, whatever the server's zone
except Exception:  # no time zone database: the server's own zone
    LOCAL_TZ = None


def local_time(when: datetime | None) -> str:
    if when is None:
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(LOCAL_TZ).strftime("%d-%m-%Y %H:%M")


templates.env.globals.update(CATEGORY_NAMES=CATEGORY_NAMES, DOMAIN_NAMES=DOMAIN_NAMES, ROUTE_NAMES=ROUTE_NAMES,
                             KANAAL_NAMES=KANAAL_NAMES, STATUS_NAMES=STATUS_NAMES, HOME=HOME)
templates.env.filters["age"] = age_text
templates.env.filters["localtime"] = local_time


def render(request: Request, name: str, context: dict | None = None, status_code: int = 200,
           principal: Principal | None = None) -> HTMLResponse:
    ctx = {"user": principal or getattr(request.state, "principal", None), **(context or {})}
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def install(app: FastAPI, auth: Auth) -> None:
    """Login, logout, home, error handlers and the timing header."""
    app.state.auth = auth
    app.include_router(router)

    @app.middleware("http")
    async def timing_and_headers(request: Request, call_next):
        t0 = time.perf_counter()
        response = await call_next(request)
        ms = (time.perf_counter() - t0) * 1000
        response.headers["Server-Timing"] = f"app;dur={ms:.1f}"
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.headers.get("content-type", "").startswith("text/html"):
            # only our own scripts and styles (htmx is vendored); inline style
            # attributes are allowed for the charts' colour swatches
            response.headers.setdefault("Content-Security-Policy", CSP)
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired):
        if wants_json(request):
            return JSONResponse({"detail": "Niet ingelogd."}, status_code=401)
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        nxt = quote(request.url.path)
        return RedirectResponse(f"/login?next={nxt}", status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):
        if wants_json(request):
            return JSONResponse({"detail": "Uw rol heeft geen toegang tot deze gegevens."}, status_code=403)
        return render(request, "error.html", {"title": "Geen toegang",
                                              "message": "Uw rol heeft geen toegang tot deze pagina."}, 403)

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, exc: CsrfFailed):
        if wants_json(request):
            return JSONResponse({"detail": "Beveiligingscode ontbreekt of klopt niet (CSRF)."}, status_code=403)
        return render(request, "error.html", {"title": "Verlopen formulier",
                                              "message": "Dit formulier is verlopen. Laad de pagina opnieuw en probeer het nog eens."}, 403)


router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "") -> HTMLResponse:
    p = await run_in_threadpool(request.app.state.auth.principal, request)
    if p is not None:
        return RedirectResponse(HOME[p.role], status_code=303)
    token = new_login_csrf()
    no_users = not await run_in_threadpool(request.app.state.auth.store.list_users)
    resp = render(request, "login.html", {"csrf": token, "next": _safe_next(next), "error": None, "no_users": no_users})
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login")
    return resp


def _safe_next(nxt: str) -> str:
    """Only a path on this site (no //host, no scheme)."""
    if nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt and ":" not in nxt.split("?")[0]:
        return nxt
    return ""


@router.post("/login", response_class=HTMLResponse)
async def login_submit(request: Request, username: str = Form(""), password: str = Form(""), csrf: str = Form(""),
                       next: str = Form("")) -> Response:
    auth: Auth = request.app.state.auth
    if not login_csrf_ok(request, csrf):
        token = new_login_csrf()
        resp = render(request, "login.html", {"csrf": token, "next": _safe_next(next),
                                              "error": "Het formulier was verlopen. Probeer het opnieuw."}, 400)
        resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login")
        return resp
    client = request.client.host if request.client else "?"
    try:
        token, p = await run_in_threadpool(auth.login, username.strip()[:64], password[:1000], client)
    except LoginThrottled as exc:
        minutes = max(1, (exc.wait_seconds + 59) // 60)
        return render(request, "login.html", {"csrf": csrf, "next": _safe_next(next),
                                              "error": f"Te veel mislukte pogingen. Probeer het over {minutes} minuten opnieuw."},
                      429)
    except ValueError as exc:
        return render(request, "login.html", {"csrf": csrf, "next": _safe_next(next), "error": str(exc)}, 401)
    target = _safe_next(next) or HOME[p.role]
    resp = RedirectResponse(target, status_code=303)
    resp.set_cookie(COOKIE, token, max_age=int(auth.session_hours * 3600), **auth.cookie_kwargs(request))
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return resp


@router.post("/logout")
async def logout(request: Request, p: Principal = Depends(require("kcc", "bureaudienst", "beheer"))) -> Response:
    await run_in_threadpool(request.app.state.auth.logout, p)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp


@router.get("/console")
async def console_home(p: Principal = Depends(require("kcc", "bureaudienst", "beheer"))) -> Response:
    return RedirectResponse(HOME[p.role], status_code=303)
