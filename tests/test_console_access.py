"""The access matrix: every route of the console and the API, for every role
and for no login.

Routes are read from the app (app.routes: API routes, mounts, WebSockets),
so a new route is checked the moment it exists. Who may use a route comes
from its ``require(...)`` dependency (the ``.roles`` of the dependency
function, found anywhere in the route's dependencies). A route without it
must be listed in PUBLIC below, with the reason it holds no client data: a
new unguarded route fails this test until someone decides it may be public.

For every route, method and {no login, kcc, bureaudienst, beheer}:
  no login    -> 401 (/api/...) or 303 to /login (pages)
  wrong role  -> 403
  right role  -> neither 401 nor 403, never 5xx; GET of a filled-in page 2xx/3xx;
                 POST with dummy data 2xx/3xx/404/409/422
  POST without (or with a wrong) CSRF token -> 403, and nothing changed

Case data: marked cases (a unique word and name in the text, a unique sender
address, a valid BSN and a phone number) lie in both queues, open and
closed. The KCC sees only the KCC queue's cases, the bureaudienst only its
own queue's, beheer no case data at all, no login nothing. Every GET route
is read by everyone (with the case number of each marked case in its path
parameters and common list filters and search terms in its query) and may
hold only markers of the cases that reader may see; a case route asked for
a case of the other queue answers 404 without any of its data and changes
nothing.
"""

from __future__ import annotations

import html
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlmodel import func, select

from triage.store import Case, Correction, OutboundRecord, User
from triage.web.auth import required_roles

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "benchmarks") not in sys.path:
    sys.path.insert(0, str(REPO / "benchmarks"))

ROLES = ("kcc", "bureaudienst", "beheer")
WHO = (None, *ROLES)  # None: no login
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")

# Routes without a login, each with why it may be public. ("MOUNT", path)
# covers everything under a mounted app, ("WS", path) a WebSocket.
PUBLIC = {
    ("GET", "/"): "redirects to /console (which needs a login)",
    ("GET", "/login"): "the login form",
    ("POST", "/login"): "logging in (own double-submit CSRF token and rate limit)",
    ("MOUNT", "/static"): "style sheet, vendored htmx, chat widget script: no data",
    ("GET", "/chat"): "demo page of the web chat: static HTML",
    ("GET", "/chat/widget.js"): "the web chat widget: static script",
    ("WS", "/chat/ws"): "the web chat: a resident sees only the conversation of the session token it holds",
    ("GET", "/api/health"): "status of the parts, no data",
    ("POST", "/api/classify"): "classifies the posted text and returns it classified; reads and stores nothing",
    ("GET", "/openapi.json"): "the API's description",
    ("POST", "/telegram/webhook"): "Telegram updates, checked by the bot's secret header",
}

CASE_PARAMS = ("number", "nummer", "case", "case_number", "zaak", "zaaknummer")
USER_PARAM_VALUE = "proef-gebruiker"  # a user made for this test: blocking it harms no one
STATUS_VALUES = ("", "open", "answered", "accepted", "closed", "alle", "all")
SEARCH_PARAMS = ("q", "zoek", "zoekterm", "search", "query", "term", "tekst", "text", "naam", "bsn", "email",
                 "telefoon", "afzender")


# ------------------------------------------------------------------ routes
@dataclass
class Route:
    kind: str  # http | ws | mount
    method: str  # GET, POST, ... | WS | MOUNT
    path: str  # the template, e.g. /kcc/zaak/{number}
    roles: tuple | None  # None: no require(...) found
    params: tuple = ()
    query: tuple = ()

    @property
    def key(self) -> tuple:
        return (self.method, self.path)

    @property
    def api(self) -> bool:
        return self.path.startswith("/api/")

    @property
    def case_param(self) -> str | None:
        for p in self.params:
            if p in CASE_PARAMS or "number" in p:
                return p
        return None


def _contexts(app):
    try:  # FastAPI keeps included routers as such; this walks into them
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI: flat list
        return list(app.routes)
    return list(iter_route_contexts(app.routes))


def discover(app) -> list[Route]:
    from starlette.routing import Mount, WebSocketRoute

    out, seen = [], set()
    for ctx in _contexts(app):
        orig = getattr(ctx, "original_route", ctx)
        path = ctx.path
        dep = getattr(ctx, "dependant", None)
        found = required_roles(dep) if dep is not None else []
        roles = None
        if found:
            allowed = set(found[0])
            for r in found[1:]:
                allowed &= set(r)
            roles = tuple(r for r in ROLES if r in allowed)
        params = tuple(re.findall(r"\{(\w+)(?::\w+)?\}", path or ""))
        query = tuple(getattr(q, "alias", None) or q.name for q in (getattr(dep, "query_params", None) or []))
        if isinstance(orig, Mount):
            items = [Route("mount", "MOUNT", path, roles)]
        elif isinstance(orig, WebSocketRoute):
            items = [Route("ws", "WS", path, roles, params)]
        else:
            items = [Route("http", m, path, roles, params, query) for m in sorted(ctx.methods or ()) if m != "HEAD"]
        for it in items:
            if it.key not in seen:  # a route registered twice counts once
                seen.add(it.key)
                out.append(it)
    return out


# ----------------------------------------------------------------- markers
@dataclass
class Marked:
    tag: str
    queue: str
    closed: bool
    word: str
    name: str
    email: str
    bsn: str
    phone: str
    number: str = ""
    patterns: dict = field(default_factory=dict)

    def text(self) -> str:
        return (f"Goedemiddag, ik heb een vraag over de openingstijden van het wijkteam en wil graag "
                f"teruggebeld worden over project {self.word}. Mijn BSN is {self.bsn[:4]}.{self.bsn[4:6]}."
                f"{self.bsn[6:]} en u kunt mij bellen op {self.phone[:2]} {self.phone[2:6]} {self.phone[6:]} of "
                f"mailen naar {self.email}.\n\nMet vriendelijke groet,\n\nAnna {self.name}")

    def values(self) -> dict:
        return {"woord": self.word, "naam": self.name, "email": self.email, "bsn": self.bsn, "telefoon": self.phone}


MARKED = (
    Marked("A", "kcc", False, "Quibbelvlaai", "Kwartelmoes", "quibbelvlaai.a@voorbeeld.nl", "725763863", "0631415926"),
    Marked("B", "bureaudienst", False, "Frotteldoos", "Snuiterbaard", "frotteldoos.b@voorbeeld.nl", "162275869",
           "0627182818"),
    Marked("C", "kcc", True, "Plonterkaas", "Wiebelstok", "plonterkaas.c@voorbeeld.nl", "192285142", "0614142135"),
    Marked("D", "bureaudienst", True, "Grutsemeel", "Knorrepot", "grutsemeel.d@voorbeeld.nl", "691682483",
           "0617320508"),
)
SEP = r"[\s.\-\u00a0]?"


def _patterns(m: Marked) -> dict:
    return {
        "woord": re.compile(re.escape(m.word), re.I),
        "naam": re.compile(re.escape(m.name), re.I),
        "email": re.compile(re.escape(m.email), re.I),
        "bsn": re.compile(r"(?<!\d)" + SEP.join(m.bsn) + r"(?!\d)"),
        "telefoon": re.compile(r"(?<!\d)(?:0|\+31" + SEP + r"(?:\(0\)" + SEP + r")?)" + SEP.join(m.phone[1:])
                               + r"(?!\d)"),
    }


def may_see(who: str | None, queue: str) -> bool:
    """The rule under test (from the brief, not from the code)."""
    return who in ("kcc", "bureaudienst") and who == queue


def leaks(body: str, cases, skip_value: str | None = None) -> list[str]:
    """Markers of ``cases`` found in ``body`` (``skip_value``: the search term
    sent in this request, which a page may repeat)."""
    body = html.unescape(body)
    found = []
    for m in cases:
        for kind, rx in m.patterns.items():
            if skip_value is not None and m.values()[kind] == skip_value:
                continue
            if rx.search(body):
                found.append(f"{m.tag}.{kind}")
    return found


def body_of(r) -> str:
    return r.content.decode("utf-8", "replace")


# ------------------------------------------------------------------- world
class World:
    """A console with marked cases in both queues, spare cases to act on and
    one logged-in client per role."""

    def __init__(self, console):
        from seed_cases import seed
        from triage.web.auth import hash_password

        self.console, self.store = console, console.store
        self.routes = discover(console.app)
        console.store.add_user(USER_PARAM_VALUE, "kcc", hash_password("proef-wachtwoord-123"), actor="test")
        self.marked = []
        for proto in MARKED:
            m = Marked(**{k: getattr(proto, k) for k in ("tag", "queue", "closed", "word", "name", "email", "bsn",
                                                            "phone")})
            m.patterns = _patterns(m)
            m.number = console.mail(m.text(), subject=f"Vraag over {m.word}", sender=m.email)
            self._place(m)
            self.marked.append(m)
        # spare cases for the actions (each POST gets a case of its own)
        seed(self.store, n=160, triage=console.service.triage, seed=11, weeks=1)
        self.spare = {q: self._open_numbers(q) for q in ("kcc", "bureaudienst")}
        self.clients = {None: console.client()}
        for role in ROLES:
            self.clients[role] = console.client(role)

    def _place(self, m: Marked) -> None:
        # a correction whose old and new values hold the name (reports of corrections must not show them)
        self.store.update_startformulier(m.number, "test", fields={"naam": f"A. {m.name}"})
        c = self.case(m.number)
        if c.queue != m.queue:
            if m.queue == "bureaudienst":
                self.store.forward_case(m.number, "test")
            else:
                self.store.return_case(m.number, "test", remark="terug voor de test")
        if m.closed:
            self.store.finish_case(m.number, "test")
        c = self.case(m.number)
        assert c.queue == m.queue and (c.status == "closed") == m.closed, (m.tag, c.queue, c.status)

    def case(self, number: str) -> Case:
        with self.store.session() as s:
            return s.exec(select(Case).where(Case.number == number)).one()

    def _open_numbers(self, queue: str) -> list[str]:
        marked = {m.number for m in self.marked}
        with self.store.session() as s:
            rows = s.exec(select(Case.number).where(Case.queue == queue, Case.status == "open",
                                                    Case.category != "crisis")).all()
        return [n for n in rows if n not in marked]

    def spare_case(self, role: str) -> str | None:
        q = role if role in self.spare else None
        if q is None or not self.spare[q]:
            return None
        return self.spare[q].pop()

    def visible_marked(self, role: str | None) -> list[Marked]:
        return [m for m in self.marked if may_see(role, m.queue)]

    def hidden_marked(self, role: str | None) -> list[Marked]:
        return [m for m in self.marked if not may_see(role, m.queue)]

    def client(self, role: str | None):
        c = self.clients[role]
        if role is not None:  # a POST /logout (or a blocked user) may have ended it
            r = c.get("/console")
            if r.status_code != 303 or r.headers.get("location", "").startswith("/login"):
                c = self.clients[role] = self.console.client(role)
        return c

    def snapshot(self, number: str | None = None) -> tuple:
        """What an action could change: counts of cases, corrections and
        replies, the accounts, and the case itself."""
        with self.store.session() as s:
            counts = tuple(s.exec(select(func.count()).select_from(t)).one() for t in (Case, Correction, OutboundRecord))
            users = tuple((u.username, u.role, u.active, u.password_hash) for u in s.exec(select(User)).all())
            row = None
            if number:
                c = s.exec(select(Case).where(Case.number == number)).first()
                row = c.model_dump() if c else None
                if row:
                    row.pop("updated_at", None)
        return counts, users, row


def fill(route: Route, number: str | None) -> tuple[str, bool]:
    """The path with its parameters filled in; False when a parameter could
    not be given a meaningful value."""
    ok = True

    def one(m):
        nonlocal ok
        name = m.group(1)
        if name == route.case_param:
            if number is None:
                ok = False
                return "SWT-2000-000000"
            return number
        if "user" in name or name in ("username", "gebruiker", "naam"):
            return USER_PARAM_VALUE
        ok = False
        return "onbekend"

    return re.sub(r"\{(\w+)(?::\w+)?\}", one, route.path), ok


class Crashed:
    """What a request that raised in the app counts as: a server error."""

    def __init__(self, exc: Exception):
        self.status_code, self.headers = 500, {}
        self.content = f"raised {type(exc).__name__}".encode()


def send(client, route: Route, url: str, **kw):
    try:
        return _send(client, route, url, **kw)
    except Exception as exc:  # the TestClient re-raises the app's errors: count them as 500
        return Crashed(exc)


def _send(client, route: Route, url: str, *, csrf: str | None, body: dict | None = None, **kw):
    if route.method == "GET":
        return client.get(url, **kw)
    headers = dict(kw.pop("headers", {}) or {})
    if route.api:
        if csrf is not None:
            headers["X-CSRF-Token"] = csrf
        return client.request(route.method, url, json=body or {}, headers=headers, **kw)
    data = dict(body or {})
    if csrf is not None:
        data["csrf"] = csrf
    return client.request(route.method, url, data=data, headers=headers, **kw)


FILTER_VALUES = {
    "status": STATUS_VALUES[1:], "kanaal": ("email", "phone", "chat"), "channel": ("email", "phone", "chat"),
    "category": ("info_advies", "enkelvoudig", "meervoudig", "crisis"), "tab": ("nieuw", "aangenomen", "gesloten", "alle"),
    "page": ("2",), "pagina": ("2",), "weken": ("52",), "van": ("2000-01-01",), "tot": ("2999-12-31",),
    "download": ("1",),
}


def query_variants(route: Route, hidden: list[Marked]) -> list[tuple[dict, str | None]]:
    """Query strings to try on a GET route: no query; its list filters
    (widest values); for search parameters every marker value of the cases
    the reader may not see; for case-number parameters (and ``crisis``) their
    numbers; any other parameter gets those numbers and words too."""
    out: list[tuple[dict, str | None]] = [({}, None)]
    for q in route.query:
        if q in FILTER_VALUES:
            out += [({q: v}, None) for v in FILTER_VALUES[q]]
        elif q in SEARCH_PARAMS:
            out += [({q: v}, v) for m in hidden for v in m.values().values()]
        elif q in CASE_PARAMS or "number" in q or q == "crisis":
            out += [({q: m.number}, None) for m in hidden]
        else:
            out += [({q: m.number}, None) for m in hidden] + [({q: m.word}, m.word) for m in hidden]
    return out


@pytest.fixture
def world(console):
    return World(console)


# ------------------------------------------------------------------- tests
def unguarded(routes) -> list[str]:
    return [f"{r.method} {r.path}" for r in routes if r.roles is None and r.key not in PUBLIC]


def test_every_route_declares_its_roles_or_is_public(console):
    routes = discover(console.app)
    assert any(r.roles for r in routes), "no route with require(...) found: the discovery is broken"
    unguarded_routes = unguarded(routes)
    assert not unguarded_routes, ("routes without require(...) that are not in PUBLIC (decide: guard them, or add them "
                           f"to PUBLIC with the reason they hold no client data): {unguarded_routes}")
    empty = [f"{r.method} {r.path}" for r in routes if r.roles == ()]
    assert not empty, f"routes whose require(...) lets no role in: {empty}"
    print(f"\n{len(routes)} routes: {sum(1 for r in routes if r.roles)} guarded, "
          f"{sum(1 for r in routes if r.roles is None)} public")


def check_matrix(world) -> tuple[list[str], list]:
    """No login, wrong role, right role (and the CSRF token) for every
    guarded route and method: (problems, matrix)."""
    problems: list[str] = []
    matrix: list[tuple[str, dict]] = []
    for route in world.routes:
        if route.kind != "http" or route.roles is None:
            continue
        cells: dict = {}
        for who in WHO:
            c = world.client(who)
            right = who in route.roles
            number = world.spare_case(who) if (right and route.case_param and route.method in UNSAFE) else None
            if number is None and route.case_param:
                vis = world.visible_marked(who) if right else world.marked
                number = vis[0].number if vis else world.marked[0].number
            url, filled = fill(route, number)
            before = world.snapshot(number if route.case_param else None)
            csrf = getattr(c, "csrf", None)
            r = send(c, route, url, csrf=csrf)
            code = r.status_code
            cells[who or "-"] = code
            where = f"{route.method} {url} as {who or 'no login'}"
            if who is None:
                if route.api:
                    ok = code == 401
                else:
                    ok = code == 303 and r.headers.get("location", "").startswith("/login")
                    hx = send(c, route, url, csrf=None, headers={"HX-Request": "true"})
                    if hx.status_code != 401 or hx.headers.get("hx-redirect") != "/login":
                        problems.append(f"{where} (htmx): {hx.status_code} (expected 401 with HX-Redirect: /login)")
                if not ok:
                    problems.append(f"{where}: {code} (expected {'401' if route.api else '303 to /login'})")
            elif not right:
                if code != 403:
                    problems.append(f"{where}: {code} (expected 403: role not allowed)")
            elif code >= 500 or code in (401, 403):
                problems.append(f"{where}: {code} (the right role must get in, and never a server error)")
            elif route.method == "GET" and filled and not 200 <= code < 400:
                problems.append(f"{where}: {code} (a page with its parameters filled in)")
            elif route.method in UNSAFE and code not in (200, 201, 202, 204, 301, 302, 303, 307, 404, 409, 422):
                problems.append(f"{where}: {code} (dummy data: expected 2xx/3xx/404/409/422)")
            if route.method in UNSAFE and (who is None or not right):
                if world.snapshot(number if route.case_param else None) != before:
                    problems.append(f"{where}: refused with {code}, but something changed")
            if route.method == "GET" and who is not None and not right:
                found = leaks(body_of(r), world.marked)
                if found:
                    problems.append(f"{where}: the refusal holds case data {found}")
        # the CSRF token: without it, or a wrong one, a change is refused
        if route.method in UNSAFE:
            for who in route.roles:
                c = world.client(who)
                number = world.spare_case(who) if route.case_param else None
                if number is None and route.case_param:
                    number = world.marked[0].number
                url, _ = fill(route, number)
                for label, token in (("no", None), ("a wrong", "x" * 43)):
                    before = world.snapshot(number if route.case_param else None)
                    r = send(c, route, url, csrf=token)
                    if r.status_code != 403:
                        problems.append(f"{route.method} {url} as {who} with {label} CSRF token: {r.status_code} "
                                        "(expected 403)")
                    if world.snapshot(number if route.case_param else None) != before:
                        problems.append(f"{route.method} {url} as {who} with {label} CSRF token: something changed")
            cells["csrf"] = "403" if not any(p.startswith(f"{route.method} {route.path.split('{')[0]}") and "CSRF" in p
                                             for p in problems) else "FAIL"
        matrix.append((f"{route.method} {route.path}", cells))
    return problems, matrix


def test_access_matrix(world):
    problems, matrix = check_matrix(world)
    _print_matrix(world.routes, matrix)
    assert not problems, "access problems:\n  " + "\n  ".join(problems)


def _print_matrix(routes, matrix) -> None:
    width = max(len(name) for name, _ in matrix) if matrix else 10
    print(f"\n{'route':<{width}}  {'none':>5} {'kcc':>5} {'bd':>5} {'beh':>5}  roles / csrf")
    for name, cells in matrix:
        roles = next(r.roles for r in routes if f"{r.method} {r.path}" == name)
        csrf = f"  no/wrong CSRF token: {cells['csrf']}" if "csrf" in cells else ""
        print(f"{name:<{width}}  " + " ".join(f"{str(cells.get(w or '-', '')):>5}" for w in WHO)
              + f"  {','.join(roles)}{csrf}")
    public = [r for r in routes if r.roles is None]
    print(f"{len(matrix)} guarded route/method pairs x 4 (no login + 3 roles) = {len(matrix) * 4} requests, "
          f"CSRF checked on {sum(1 for n, _ in matrix if not n.startswith('GET'))} changing routes; "
          f"{len(public)} public: {', '.join(f'{r.method} {r.path}' for r in public)}")


def check_other_queue(world) -> tuple[list[str], int]:
    """A case route asked for a case the role may not see: 404, none of the
    case's data, and nothing changed."""
    problems, checked = [], 0
    for route in world.routes:
        if route.kind != "http" or not route.roles or not route.case_param:
            continue
        for who in route.roles:
            c = world.client(who)
            for m in world.hidden_marked(who):
                url, _ = fill(route, m.number)
                before = world.snapshot(m.number)
                r = send(c, route, url, csrf=getattr(c, "csrf", None))
                checked += 1
                where = f"{route.method} {url} as {who} (case {m.tag} of the {m.queue} queue)"
                if route.method == "GET" and r.status_code != 404:
                    problems.append(f"{where}: {r.status_code} (expected 404)")
                if route.method in UNSAFE and r.status_code not in (404, 422):
                    problems.append(f"{where}: {r.status_code} (expected 404)")
                found = leaks(body_of(r), [m])
                if found:
                    problems.append(f"{where}: the answer holds the case's data {found}")
                if world.snapshot(m.number) != before:
                    problems.append(f"{where}: the case or the store changed")
    return problems, checked


def test_case_of_the_other_queue_is_not_found(world):
    problems, checked = check_other_queue(world)
    print(f"\n{checked} requests for cases of the other queue")
    assert not problems, "case visibility problems:\n  " + "\n  ".join(problems)


def check_leaks(world) -> tuple[list[str], int]:
    """Every GET route, read by no login and by every role, with every marked
    case in its path and list filters and search terms in its query: only
    markers of cases the reader may see."""
    problems, checked = [], 0
    for route in world.routes:
        if route.kind != "http" or route.method != "GET":
            continue
        for who in WHO:
            c = world.client(who)
            hidden = world.hidden_marked(who)
            numbers = [m.number for m in world.marked] if route.case_param else [None]
            for number in numbers:
                url, _ = fill(route, number)
                for query, searched in query_variants(route, hidden):
                    r = send(c, route, url, csrf=None, params=query)
                    checked += 1
                    if r.status_code >= 500:
                        problems.append(f"GET {url} {query} as {who or 'no login'}: {r.status_code}")
                    found = leaks(body_of(r), hidden, skip_value=searched)
                    if found:
                        problems.append(f"GET {url} {query} as {who or 'no login'} ({r.status_code}): "
                                        f"holds data of cases it may not see: {found}")
    return problems, checked


def test_no_case_data_for_whoever_may_not_see_it(world):
    problems, checked = check_leaks(world)
    print(f"\n{checked} GET requests checked for case data")
    assert checked > 0
    assert not problems, "leaks:\n  " + "\n  ".join(problems)


def test_right_role_sees_its_own_marked_cases(world):
    """The check above finds markers at all: a case route shows the role its
    own case (else the leak check could pass by seeing nothing)."""
    shown = {}
    for route in world.routes:
        if route.kind != "http" or route.method != "GET" or not route.roles or not route.case_param:
            continue
        for who in route.roles:
            for m in world.visible_marked(who):
                url, _ = fill(route, m.number)
                r = world.client(who).get(url)
                if r.status_code == 200 and leaks(body_of(r), [m]):
                    shown.setdefault(who, set()).add(m.tag)
    roles_with_case_routes = {w for r in world.routes if r.case_param and r.roles and r.method == "GET"
                              for w in r.roles if w != "beheer"}
    for who in roles_with_case_routes:
        assert shown.get(who), f"no case page of {who} showed a marker of its own cases: the leak check sees nothing"


def test_every_view_of_a_case_is_an_audit_event(world):
    """Every GET route that shows a case (page, API, export) writes an audit
    event for that case with the reader as actor, and no event holds the
    case's data (docs/privacy.md promises both)."""
    from triage.store import Event

    def events(case_id: int, actor: str) -> int:
        with world.store.session() as s:
            return s.exec(select(func.count()).select_from(Event).where(Event.case_id == case_id,
                                                                        Event.actor == actor)).one()

    silent, checked = [], 0
    for route in world.routes:
        if route.kind != "http" or route.method != "GET" or not route.roles or not route.case_param:
            continue
        for who in route.roles:
            for m in world.visible_marked(who):
                case_id = world.case(m.number).id
                before = events(case_id, who)
                url, _ = fill(route, m.number)
                r = world.client(who).get(url)
                if r.status_code != 200:
                    continue
                checked += 1
                if events(case_id, who) <= before:
                    silent.append(f"GET {url} as {who}")
    assert checked > 0
    assert not silent, f"views of a case without an audit event: {silent}"
    with world.store.session() as s:
        details = [str(e.detail) for e in s.exec(select(Event)).all()]
    found = [f for d in details for f in leaks(d, world.marked)]
    assert not found, f"audit events hold case data: {found}"


def test_public_routes_hold_no_case_data(world):
    c = world.client(None)
    checked = 0
    for route in world.routes:
        if route.roles is not None:
            continue
        if route.kind == "mount":
            r = c.get(route.path.rstrip("/") + "/console.css")
            assert r.status_code in (200, 404)
            assert not leaks(body_of(r), world.marked)
            checked += 1
        elif route.kind == "http" and route.method == "GET" and not route.params:
            r = c.get(route.path)
            assert r.status_code < 500, route.path
            assert not leaks(body_of(r), world.marked), route.path
            checked += 1
    r = c.post("/api/classify", json={"text": "Wat zijn de openingstijden van het wijkteam?"})
    assert r.status_code == 200 and not leaks(body_of(r), world.marked)
    # the web chat starts a conversation of its own: nothing of anyone else
    with c.websocket_connect("/chat/ws") as ws:
        frames = [ws.receive_json()]
        while frames[-1].get("type") != "done":
            frames.append(ws.receive_json())
    assert frames[0]["type"] == "session" and not frames[0]["resumed"]
    assert not leaks(str(frames), world.marked)
    assert checked >= 3


def test_the_checks_find_a_leak_and_a_missing_guard(world):
    """The checks above on purpose-made bad routes: they must report them
    (else a passing matrix would mean nothing)."""
    from fastapi import Depends
    from fastapi.responses import HTMLResponse

    from triage.store import InboundRecord
    from triage.web.auth import require

    app, store = world.console.app, world.store

    @app.get("/kcc/alles", response_class=HTMLResponse)
    def every_message(p=Depends(require("kcc"))):  # the KCC sees the bureaudienst's cases too
        with store.session() as s:
            return "<br>".join(m.inhoud for m in s.exec(select(InboundRecord)).all())

    @app.get("/kcc/zaakje/{number}", response_class=HTMLResponse)
    def any_case(number: str, p=Depends(require("kcc", "bureaudienst"))):  # no queue check
        return store.show_case(number, p.username)["messages"][0]["inhoud"]

    @app.get("/open/meldingen")
    def open_route():
        return {"ok": True}

    @app.post("/api/beheer/kapot")
    def broken(p=Depends(require("beheer"))):
        raise RuntimeError("kapot")

    world.routes = discover(app)
    assert unguarded(world.routes) == ["GET /open/meldingen"]
    matrix_problems, _ = check_matrix(world)
    assert [p for p in matrix_problems if "kapot" in p] == [
        "POST /api/beheer/kapot as beheer: 500 (the right role must get in, and never a server error)"], matrix_problems
    leaks_found, _ = check_leaks(world)
    assert any("/kcc/alles" in p and "B.bsn" in p and "as kcc" in p for p in leaks_found), leaks_found
    assert any("/kcc/zaakje/" in p and "as bureaudienst" in p and "A.woord" in p for p in leaks_found), leaks_found
    other, _ = check_other_queue(world)
    assert any("/kcc/zaakje/" in p and "expected 404" in p for p in other), other
    assert not any("/kcc/alles" in p for p in other)
