"""The bureaudienst's pages and JSON API (see console.py for the shared parts).

    GET  /bureaudienst                       the queue: tabs nieuw | aangenomen | gesloten, 50 a page
    GET  /bureaudienst/zaak/{number}         one case: messages, reasons, startformulier, actions
    POST /bureaudienst/zaak/{number}/startformulier | aannemen | terug | sluiten
    GET  /api/bureaudienst/queue             the queue as JSON
    GET  /api/bureaudienst/cases/{number}    one case as JSON
    POST /api/bureaudienst/cases/{number}/accept | return | close

The queue holds the cases with ``queue == "bureaudienst"``: crisis first,
then priority (spoed, hoog, normaal, none), then age (oldest first). Reads
are here (indexed columns, only the needed columns, one query per list);
every change goes through the store's console write path, which writes the
audit events and corrections. A case that is not in the bureaudienst's
queue answers 404, like a case that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import case as when, func
from sqlmodel import select
from starlette.concurrency import run_in_threadpool

from ..forms import AANMELDERS, FIELD_LABELS, FIELDS
from ..store import Case, CaseConflict, CaseNotFound, InboundRecord, Startformulier, Store, User
from . import export
from .auth import Principal, require
from .console import age_text, render
from .export import CONSENT_NAMES, CONSENT_QUESTION, ConsoleError, save_startformulier, visible_case

router = APIRouter()
router.include_router(export.router)
ROLE = require("bureaudienst")

PAGE_SIZE = 50
TABS = {"nieuw": ("open", "answered"), "aangenomen": ("accepted",), "gesloten": ("closed",)}
TAB_NAMES = {"nieuw": "Nieuw", "aangenomen": "Aangenomen", "gesloten": "Gesloten"}
PRIORITY_NAMES = {"spoed": "Spoed", "hoog": "Hoog", "normaal": "Normaal"}
SHORT = 110  # characters of the hulpvraag in the queue
AUTOMATIC = "Automatisch (niet via KCC)"
DONE = {  # confirmations after a change (?gedaan=...)
    "aangenomen": "De zaak is aangenomen en toegewezen aan {assigned}.",
    "opgeslagen": "Het startformulier is opgeslagen.",
    "gesloten": "De zaak is gesloten.",
    "terug": "Zaak {number} is teruggestuurd naar het KCC.",
}


# ------------------------------------------------------------------ reading
@dataclass
class QueuePage:
    tab: str
    page: int
    pages: int
    total: int
    counts: dict[str, int]
    rows: list[dict] = field(default_factory=list)


def read_queue(store: Store, tab: str, page: int) -> QueuePage:
    """One page of the bureaudienst's queue: two queries (counts, rows)."""
    tab = tab if tab in TABS else "nieuw"
    with store.session() as s:
        per_status = dict(s.exec(select(Case.status, func.count()).where(Case.queue == "bureaudienst")
                                 .group_by(Case.status)).all())
        counts = {t: sum(per_status.get(st, 0) for st in sts) for t, sts in TABS.items()}
        total = counts[tab]
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(max(1, page), pages)
        if tab == "gesloten":
            order = (Case.closed_at.desc(), Case.id.desc())
        else:
            crisis_first = when((Case.category == "crisis", 0), else_=1)
            priority = when((Case.priority == "spoed", 0), (Case.priority == "hoog", 1),
                            (Case.priority == "normaal", 2), else_=3)
            order = (crisis_first, priority, Case.created_at, Case.id)
        q = (select(Case.number, Case.created_at, Case.kanaal, Case.category, Case.domains, Case.priority, Case.wijk,
                    Case.status, Case.reviewed_by, User.display_name, Case.assigned_to, Case.closed_at,
                    func.substr(Startformulier.hulpvraag, 1, SHORT + 1))
             .join(Startformulier, Startformulier.case_id == Case.id, isouter=True)
             .join(User, User.username == Case.reviewed_by, isouter=True)
             .where(Case.queue == "bureaudienst", Case.status.in_(TABS[tab]))
             .order_by(*order).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
        rows = []
        for (number, created_at, kanaal, category, domains, priority, wijk, status, reviewed_by, reviewer, assigned,
             closed_at, hulpvraag) in s.exec(q).all():
            cut = len(hulpvraag or "") > SHORT
            hulpvraag = " ".join((hulpvraag or "")[:SHORT].split())
            rows.append({"number": number, "created_at": created_at, "age": age_text(created_at), "kanaal": kanaal,
                         "category": category, "crisis": category == "crisis", "domains": list(domains or []),
                         "priority": priority, "wijk": wijk, "status": status, "assigned_to": assigned,
                         "closed_at": closed_at, "forwarded_by": (reviewer or reviewed_by) if reviewed_by else None,
                         "hulpvraag": hulpvraag + ("…" if cut else "")})
    return QueuePage(tab, page, pages, total, counts, rows)


def open_counts(store: Store) -> dict[str, int]:
    """Accepted, not yet closed cases per wijkteam member."""
    with store.session() as s:
        return {name: n for name, n in s.exec(select(Case.assigned_to, func.count()).where(Case.status == "accepted")
                                              .group_by(Case.assigned_to)).all() if name}


def read_case(store: Store, municipality, c: Case) -> dict:
    """Everything the case page shows (the case row is already read)."""
    with store.session() as s:
        form = s.exec(select(Startformulier).where(Startformulier.case_id == c.id)).first()
        msgs = s.exec(select(InboundRecord.kanaal, InboundRecord.received_at, InboundRecord.afzender,
                             InboundRecord.afzender_naam, InboundRecord.onderwerp, InboundRecord.inhoud)
                      .where(InboundRecord.case_id == c.id).order_by(InboundRecord.id)).all()
        reviewer = None
        if c.reviewed_by:
            reviewer = s.exec(select(User.display_name).where(User.username == c.reviewed_by)).first() or c.reviewed_by
    counts = open_counts(store)
    suggestion = municipality.suggest_member(c.wijk, counts)
    members = [{"name": name, "focuswijken": list(wijken), "open_cases": counts.get(name, 0),
                "suggested": name == suggestion} for name, wijken in municipality.wijkteam.items()]
    return {
        "number": c.number, "created_at": c.created_at, "age": age_text(c.created_at), "kanaal": c.kanaal,
        "category": c.category, "crisis": c.category == "crisis", "domains": list(c.domains or []),
        "priority": c.priority, "wijk": c.wijk, "status": c.status, "destination": c.destination,
        "reasons": list(c.reasons or []), "forwarded_by": reviewer, "remark": c.remark,
        "assigned_to": c.assigned_to, "accepted_by": c.accepted_by, "accepted_at": c.accepted_at,
        "closed_at": c.closed_at, "indicatie": c.indicatie, "suggestion": suggestion, "members": members,
        "messages": [{"kanaal": k, "received_at": at, "afzender": a, "afzender_naam": an, "onderwerp": o,
                      "inhoud": i} for k, at, a, an, o, i in msgs],
        "startformulier": {"fields": dict(form.fields or {}) if form else {},
                           "consent": form.consent if form else "onbekend",
                           "hulpvraag": form.hulpvraag if form else ""},
    }


# ------------------------------------------------------------------ actions
def accept(store: Store, municipality, number: str, actor: str, assigned_to: str) -> Case:
    visible_case(store, "bureaudienst", number)
    assigned_to = (assigned_to or "").strip()
    if not assigned_to:
        raise ValueError("Kies een medewerker van het wijkteam.")
    if municipality.wijkteam and assigned_to not in municipality.wijkteam:
        raise ValueError("Kies een medewerker uit de lijst van het wijkteam.")
    return store.accept_case(number, actor, assigned_to=assigned_to)


def give_back(store: Store, number: str, actor: str, remark: str) -> Case:
    visible_case(store, "bureaudienst", number)
    return store.return_case(number, actor, remark=remark or "")


def close(store: Store, number: str, actor: str, indicatie: bool) -> Case:
    visible_case(store, "bureaudienst", number)
    return store.finish_case(number, actor, indicatie=indicatie, queue="bureaudienst")


# -------------------------------------------------------------------- pages
def _store(request: Request) -> Store:
    return request.app.state.service.store


def _municipality(request: Request):
    return request.app.state.triage.municipality


def _not_found(request: Request) -> Response:
    return render(request, "error.html", {"title": "Zaak niet gevonden",
                                          "message": "Deze zaak bestaat niet of ligt niet bij de bureaudienst."}, 404)


def _int(value: str | None, default: int = 1) -> int:
    try:
        return int(value or default)
    except ValueError:
        return default


@router.get("/bureaudienst", response_class=HTMLResponse, include_in_schema=False)
def queue_page(request: Request, tab: str = "nieuw", page: str = "1", gedaan: str = "", zaak: str = "",
               p: Principal = Depends(ROLE)) -> HTMLResponse:
    store = _store(request)
    qp = read_queue(store, tab, _int(page))
    partial = request.headers.get("hx-request") == "true" and request.headers.get("hx-target") == "wachtrij"
    store.audit(p.username, "queue_viewed", detail={"tab": qp.tab, "page": qp.page, "rows": len(qp.rows),
                                                     "refresh": partial})
    ctx = {"title": "Wachtrij bureaudienst", "nav": "wachtrij", "q": qp, "TAB_NAMES": TAB_NAMES,
           "PRIORITY_NAMES": PRIORITY_NAMES, "AUTOMATIC": AUTOMATIC,
           "done": DONE["terug"].format(number=zaak) if gedaan == "terug" and zaak.startswith("SWT-") else None}
    return render(request, "bureaudienst/_queue_table.html" if partial else "bureaudienst/queue.html", ctx)


def _form_values(fields: dict) -> dict:
    """Stored fields as the form shows them (dates as dd-mm-jjjj)."""
    out = {k: fields.get(k, "") for k in FIELDS}
    iso = out.get("geboortedatum") or ""
    if len(iso) == 10 and iso[4] == "-":
        out["geboortedatum"] = f"{iso[8:10]}-{iso[5:7]}-{iso[0:4]}"
    out["kinderen"] = fields.get("kinderen") is True
    return out


def _case_response(request: Request, p: Principal, number: str, *, status: int = 200, errors: dict | None = None,
                   typed: dict | None = None, done: str = "") -> Response:
    """The case page (a view of the case: audit event case_viewed). ``typed``:
    what the user sent, shown again after an error so nothing is lost."""
    store = _store(request)
    try:
        c = visible_case(store, p.role, number)
    except CaseNotFound:
        return _not_found(request)
    data = read_case(store, _municipality(request), c)
    store.audit(p.username, "case_viewed", case_id=c.id, detail={"page": "bureaudienst"})
    typed = typed or {}
    form = typed.get("form") or {**_form_values(data["startformulier"]["fields"]),
                                 "consent": data["startformulier"]["consent"],
                                 "hulpvraag": data["startformulier"]["hulpvraag"]}
    message = DONE.get(done, "").format(assigned=data["assigned_to"] or "", number=number) if done else None
    return render(request, "bureaudienst/case.html", {
        "title": f"Zaak {number}", "nav": "wachtrij", "c": data, "errors": errors or {}, "form": form,
        "typed": typed, "done": message, "FIELDS": FIELDS, "FIELD_LABELS": FIELD_LABELS, "AANMELDERS": AANMELDERS,
        "CONSENT_NAMES": CONSENT_NAMES, "CONSENT_QUESTION": CONSENT_QUESTION, "PRIORITY_NAMES": PRIORITY_NAMES,
        "AUTOMATIC": AUTOMATIC}, status_code=status)


@router.get("/bureaudienst/zaak/{number}", response_class=HTMLResponse, include_in_schema=False)
def case_page(request: Request, number: str, gedaan: str = "", p: Principal = Depends(ROLE)) -> Response:
    return _case_response(request, p, number, done=gedaan if gedaan in DONE else "")


def _to_case(number: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"/bureaudienst/zaak/{number}?gedaan={done}#melding", status_code=303)


async def _failed(request: Request, p: Principal, number: str, exc: Exception, key: str, typed: dict) -> Response:
    if isinstance(exc, CaseNotFound):
        return _not_found(request)
    status = 409 if isinstance(exc, CaseConflict) else 422
    return await run_in_threadpool(_case_response, request, p, number, status=status, errors={key: str(exc)},
                                   typed=typed)


@router.post("/bureaudienst/zaak/{number}/startformulier", response_class=HTMLResponse, include_in_schema=False)
async def startformulier_submit(request: Request, number: str, p: Principal = Depends(ROLE)) -> Response:
    sent = await request.form()
    raw = {k: str(sent.get(k, "")) for k in FIELDS if k != "kinderen"}
    raw["kinderen"] = "ja" if sent.get("kinderen") else ""
    consent, hulpvraag = str(sent.get("consent", "onbekend")), str(sent.get("hulpvraag", ""))
    typed = {"form": {**raw, "kinderen": bool(sent.get("kinderen")), "consent": consent, "hulpvraag": hulpvraag}}
    store = _store(request)

    def work():
        visible_case(store, p.role, number)
        return save_startformulier(store, _municipality(request), number, p.username, raw_fields=raw,
                                   consent=consent, hulpvraag=hulpvraag)
    try:
        errors = await run_in_threadpool(work)
    except (CaseNotFound, CaseConflict, ValueError) as exc:
        return await _failed(request, p, number, exc, "startformulier", typed)
    if errors:
        return await run_in_threadpool(_case_response, request, p, number, status=422, errors=errors, typed=typed)
    return _to_case(number, "opgeslagen")


@router.post("/bureaudienst/zaak/{number}/aannemen", response_class=HTMLResponse, include_in_schema=False)
async def accept_submit(request: Request, number: str, p: Principal = Depends(ROLE)) -> Response:
    sent = await request.form()
    assigned = str(sent.get("assigned_to", ""))
    try:
        await run_in_threadpool(accept, _store(request), _municipality(request), number, p.username, assigned)
    except (CaseNotFound, CaseConflict, ValueError) as exc:
        return await _failed(request, p, number, exc, "accept", {"assigned_to": assigned})
    return _to_case(number, "aangenomen")


@router.post("/bureaudienst/zaak/{number}/terug", response_class=HTMLResponse, include_in_schema=False)
async def return_submit(request: Request, number: str, p: Principal = Depends(ROLE)) -> Response:
    sent = await request.form()
    remark = str(sent.get("remark", ""))
    try:
        await run_in_threadpool(give_back, _store(request), number, p.username, remark)
    except (CaseNotFound, CaseConflict, ValueError) as exc:
        return await _failed(request, p, number, exc, "return", {"remark": remark})
    return RedirectResponse(f"/bureaudienst?gedaan=terug&zaak={number}", status_code=303)


@router.post("/bureaudienst/zaak/{number}/sluiten", response_class=HTMLResponse, include_in_schema=False)
async def close_submit(request: Request, number: str, p: Principal = Depends(ROLE)) -> Response:
    sent = await request.form()
    choice = str(sent.get("indicatie", ""))
    try:
        if choice not in ("ja", "nee"):
            raise ValueError("Kies of de zaak met of zonder indicatie wordt gesloten.")
        await run_in_threadpool(close, _store(request), number, p.username, choice == "ja")
    except (CaseNotFound, CaseConflict, ValueError) as exc:
        return await _failed(request, p, number, exc, "close", {"indicatie": choice})
    return _to_case(number, "gesloten")


# ---------------------------------------------------------------------- API
class BureaudienstQueueRow(BaseModel):
    number: str
    created_at: datetime
    age: str = Field(description="Hoe lang de zaak wacht, bijvoorbeeld '3 uur'")
    kanaal: str
    category: str
    crisis: bool
    domains: list[str]
    priority: str | None
    wijk: str | None
    status: str
    hulpvraag: str = Field(description="Het begin van de hulpvraag")
    forwarded_by: str | None = Field(description="Wie van het KCC de zaak doorzette (leeg: automatisch)")
    assigned_to: str | None
    closed_at: datetime | None


class BureaudienstQueue(BaseModel):
    tab: str = Field(description="nieuw, aangenomen of gesloten")
    page: int
    pages: int
    total: int
    counts: dict[str, int]
    rows: list[BureaudienstQueueRow]


class WijkteamMember(BaseModel):
    name: str
    focuswijken: list[str]
    open_cases: int
    suggested: bool


class BureaudienstMessage(BaseModel):
    kanaal: str
    received_at: datetime
    afzender: str | None
    afzender_naam: str | None
    onderwerp: str
    inhoud: str


class BureaudienstForm(BaseModel):
    fields: dict[str, str | bool]
    consent: str
    hulpvraag: str


class BureaudienstCase(BaseModel):
    number: str
    created_at: datetime
    age: str
    kanaal: str
    category: str
    crisis: bool
    domains: list[str]
    priority: str | None
    wijk: str | None
    status: str
    destination: str | None
    reasons: list[str]
    forwarded_by: str | None
    remark: str | None
    assigned_to: str | None
    accepted_by: str | None
    accepted_at: datetime | None
    closed_at: datetime | None
    indicatie: bool | None
    suggestion: str | None = Field(description="Voorgestelde medewerker: focuswijk van de zaak, minste open zaken")
    members: list[WijkteamMember]
    messages: list[BureaudienstMessage]
    startformulier: BureaudienstForm


class AcceptCase(BaseModel):
    assigned_to: str = Field(description="Naam van de medewerker van het wijkteam")


class ReturnCase(BaseModel):
    remark: str = Field("", description="Waarom de zaak terug gaat naar het KCC (verplicht)")


class CloseCase(BaseModel):
    indicatie: bool = Field(description="Gesloten met indicatie (telt mee in de rapportage van de pilot)")


class BureaudienstCaseState(BaseModel):
    number: str
    status: str
    queue: str
    assigned_to: str | None
    accepted_by: str | None
    indicatie: bool | None
    closed_at: datetime | None


ERRORS = {404: {"model": ConsoleError}, 409: {"model": ConsoleError}, 422: {"model": ConsoleError}}


def _state(c: Case) -> dict:
    return BureaudienstCaseState(number=c.number, status=c.status, queue=c.queue, assigned_to=c.assigned_to,
                        accepted_by=c.accepted_by, indicatie=c.indicatie, closed_at=c.closed_at).model_dump(mode="json")


async def _api(fn, *args) -> Response:
    try:
        c = await run_in_threadpool(fn, *args)
    except CaseNotFound:
        return JSONResponse({"detail": "Zaak niet gevonden."}, status_code=404)
    except CaseConflict as exc:
        return JSONResponse({"detail": str(exc)}, status_code=409)
    except ValueError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=422)
    return JSONResponse(_state(c))


@router.get("/api/bureaudienst/queue", response_model=BureaudienstQueue, tags=["bureaudienst"],
            summary="De wachtrij van de bureaudienst: crisis eerst, dan prioriteit, dan de oudste")
def api_queue(request: Request, tab: str = "nieuw", page: int = 1, p: Principal = Depends(ROLE)) -> Response:
    store = _store(request)
    qp = read_queue(store, tab, page)
    store.audit(p.username, "queue_viewed", detail={"tab": qp.tab, "page": qp.page, "rows": len(qp.rows), "api": True})
    out = BureaudienstQueue(tab=qp.tab, page=qp.page, pages=qp.pages, total=qp.total, counts=qp.counts,
                   rows=[BureaudienstQueueRow(**r) for r in qp.rows])
    return JSONResponse(out.model_dump(mode="json"))


@router.get("/api/bureaudienst/cases/{number}", response_model=BureaudienstCase, responses={404: {"model": ConsoleError}},
            tags=["bureaudienst"], summary="Een zaak van de bureaudienst (bekijken is een audit-event)")
def api_case(request: Request, number: str, p: Principal = Depends(ROLE)) -> Response:
    store = _store(request)
    try:
        c = visible_case(store, p.role, number)
    except CaseNotFound:
        return JSONResponse({"detail": "Zaak niet gevonden."}, status_code=404)
    data = read_case(store, _municipality(request), c)
    store.audit(p.username, "case_viewed", case_id=c.id, detail={"api": True})
    return JSONResponse(BureaudienstCase(**data).model_dump(mode="json"))


@router.post("/api/bureaudienst/cases/{number}/accept", response_model=BureaudienstCaseState, responses=ERRORS,
             tags=["bureaudienst"], summary="Aannemen en toewijzen aan een medewerker van het wijkteam")
async def api_accept(request: Request, number: str, body: AcceptCase, p: Principal = Depends(ROLE)) -> Response:
    return await _api(accept, _store(request), _municipality(request), number, p.username, body.assigned_to)


@router.post("/api/bureaudienst/cases/{number}/return", response_model=BureaudienstCaseState, responses=ERRORS,
             tags=["bureaudienst"], summary="Terug naar het KCC, met een opmerking (niet voor een crisis)")
async def api_return(request: Request, number: str, body: ReturnCase, p: Principal = Depends(ROLE)) -> Response:
    return await _api(give_back, _store(request), number, p.username, body.remark)


@router.post("/api/bureaudienst/cases/{number}/close", response_model=BureaudienstCaseState, responses=ERRORS,
             tags=["bureaudienst"], summary="Zaak sluiten, met of zonder indicatie")
async def api_close(request: Request, number: str, body: CloseCase, p: Principal = Depends(ROLE)) -> Response:
    return await _api(close, _store(request), number, p.username, body.indicatie)


__all__ = ["router", "read_queue", "read_case", "open_counts", "accept", "give_back", "close", "BureaudienstQueue",
           "BureaudienstCase"]
