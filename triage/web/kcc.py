"""The KCC part of the console: the inbox of triaged messages, the case page
with its actions, and the phone-note form (see console.py for the shared
parts).

Pages (role kcc; every POST carries the login's CSRF token):

- ``GET /kcc``: the inbox: cases in the KCC queue, open ones first, oldest
  first, 50 a page, filters status / kanaal / category. Viewing the list is
  the audit event ``inbox_viewed``.
- ``GET /kcc/zaak/{number}``: the message(s), the triage, the suggested
  standard answer, the startformulier and the actions. Viewing is the audit
  event ``case_viewed``. A case outside the KCC queue answers 404.
- ``POST /kcc/zaak/{number}/accepteren|verbeteren|antwoord|startformulier|
  doorsturen|sluiten``: the actions, each through one store method (which
  writes the Correction rows and audit events). Afterwards a redirect with
  ``?gedaan=CODE`` shows a confirmation; a form error shows the page again
  with the typed text kept.
- ``GET/POST /kcc/telefoonnotitie`` and ``POST /kcc/telefoonnotitie/voorbeeld``:
  the phone note; the preview triages the text without storing anything.

The same under ``/api/kcc/...`` as JSON (listed in /openapi.json).
"""

from __future__ import annotations

import math
import re
import secrets
from datetime import datetime, timezone
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import case as sql_case
from sqlalchemy import func
from sqlmodel import select
from starlette.concurrency import run_in_threadpool

from ..forms import AANMELDERS, FIELD_LABELS, FIELDS, validate_startformulier
from ..kennisbank import detect_language
from ..store import (CATEGORIES, DOMAINS, Case, CaseConflict, CaseNotFound, Conversation, InboundRecord,
                     OutboundRecord, Startformulier)
from .auth import Principal, require
from .console import NUMBER_RX, CATEGORY_NAMES, KANAAL_NAMES, age_text, aware, can_view_case, render, visible_case

router = APIRouter()
ROLE = require("kcc")
PER_PAGE = 50
MAX_NOTE = 20_000  # characters of a phone note
MAX_ANSWER = 20_000
MAX_MESSAGES = 50  # messages shown on a case page (a long chat shows the last ones)
KEY_RX = re.compile(r"[A-Za-z0-9_-]{16,100}")

REVIEW_NAMES = {None: "Nog niet beoordeeld", "accepted": "Route geaccepteerd", "corrected": "Verbeterd",
                "forwarded": "Doorgestuurd", "answered": "Beantwoord"}
STATUS_FILTERS = {"": "Alles behalve gesloten", "open": "Open", "answered": "Beantwoord", "closed": "Gesloten",
                  "alle": "Alle zaken"}
CONSENT_NAMES = {"ja": "Ja, de inwoner geeft toestemming", "nee": "Nee, de inwoner geeft geen toestemming",
                 "onbekend": "Niet gevraagd"}
# confirmations after an action (?gedaan=CODE&zaak=NUMBER); fixed texts, nothing from the URL but the number
DONE = {
    "geaccepteerd": "De route van zaak {zaak} is geaccepteerd. De zaak blijft bij het KCC.",
    "geaccepteerd_bd": "De route van zaak {zaak} is geaccepteerd. De zaak staat nu bij de bureaudienst.",
    "verbeterd": "De verbetering van zaak {zaak} is opgeslagen.",
    "verbeterd_bd": "De verbetering van zaak {zaak} is opgeslagen. De zaak staat nu bij de bureaudienst.",
    "ongewijzigd": "Er was niets veranderd aan categorie of domeinen van zaak {zaak}.",
    "verstuurd": "Het antwoord voor zaak {zaak} is verstuurd.",
    "in_chat": ("Het antwoord voor zaak {zaak} is klaargezet voor de chat van de inwoner. Onder 'Verstuurde berichten' "
                "ziet u of het is aangekomen."),
    "opgeslagen": "Het startformulier van zaak {zaak} is opgeslagen.",
    "doorgestuurd": "Zaak {zaak} is doorgestuurd naar de bureaudienst.",
    "gesloten": "Zaak {zaak} is gesloten.",
    "notitie": "De telefoonnotitie is opgeslagen als zaak {zaak}. Vul het startformulier aan en vraag om toestemming.",
    "notitie_bd": "De telefoonnotitie is opgeslagen als zaak {zaak}. De zaak staat al bij de bureaudienst.",
}

templates_globals = {"REVIEW_NAMES": REVIEW_NAMES, "CONSENT_NAMES": CONSENT_NAMES, "FIELD_LABELS": FIELD_LABELS,
                     "AANMELDERS": AANMELDERS, "STATUS_FILTERS": STATUS_FILTERS, "DOMAINS": DOMAINS,
                     "CATEGORIES": CATEGORIES}


# ------------------------------------------------------------------ helpers
def _store(request: Request):
    return request.app.state.service.store


def _kb(request: Request):
    return getattr(request.app.state.triage, "kennisbank", None)


def _answer_title(request: Request, answer_id: str | None) -> str | None:
    kb = _kb(request)
    if not answer_id or kb is None or answer_id not in kb.answers:
        return None
    return kb.answers[answer_id].title


class NotVisible(Exception):
    """No such case for the KCC (unknown, or in another queue): 404."""


def _not_found(request: Request) -> HTMLResponse:
    return render(request, "error.html", {"title": "Zaak niet gevonden",
                                          "message": "Deze zaak bestaat niet of ligt niet bij het KCC."}, 404)


def _visible_case(store, number: str) -> Case:
    """The case when the KCC may see it (console.visible_case); NotVisible
    otherwise."""
    try:
        return visible_case(store, "kcc", number)
    except CaseNotFound:
        raise NotVisible() from None


def _done_url(path: str, code: str, number: str, anchor: str = "") -> str:
    return f"{path}?{urlencode({'gedaan': code, 'zaak': number})}{anchor}"


# ------------------------------------------------------------------- inbox
def _filters(status: str, kanaal: str, category: str) -> tuple[str, str, str]:
    return (status if status in STATUS_FILTERS else "", kanaal if kanaal in KANAAL_NAMES else "",
            category if category in CATEGORY_NAMES else "")


def inbox_rows(request: Request, *, status: str = "", kanaal: str = "", category: str = "", page: int = 1) -> dict:
    """One page of the KCC queue: open ones first, oldest first. Only the
    columns the list shows; one count and one page query."""
    store = _store(request)
    status, kanaal, category = _filters(status, kanaal, category)
    where = [Case.queue == "kcc"]
    if status == "":
        where.append(Case.status != "closed")
    elif status != "alle":
        where.append(Case.status == status)
    if kanaal:
        where.append(Case.kanaal == kanaal)
    if category:
        where.append(Case.category == category)
    cols = (Case.number, Case.created_at, Case.kanaal, Case.category, Case.domains, Case.confidence, Case.route,
            Case.answer_id, Case.review, Case.status, Case.remark, Case.priority)
    with store.session() as s:
        total = s.exec(select(func.count()).select_from(Case).where(*where)).one()
        pages = max(1, math.ceil(total / PER_PAGE))
        page = min(max(1, page), pages)
        rows = s.exec(select(*cols).where(*where)
                      .order_by(sql_case((Case.status == "open", 0), else_=1), Case.created_at, Case.id)
                      .offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
    now = datetime.now(timezone.utc)
    items = [{"number": r.number, "created_at": aware(r.created_at), "age": age_text(r.created_at, now),
              "kanaal": r.kanaal, "category": r.category, "domains": list(r.domains or []),
              "confidence": round(float(r.confidence or 0.0), 4), "route": r.route, "answer_id": r.answer_id,
              "answer_title": _answer_title(request, r.answer_id), "review": r.review, "status": r.status,
              "returned": bool(r.remark) and r.review is None, "remark": r.remark if r.review is None else None,
              "priority": r.priority} for r in rows]
    return {"items": items, "page": page, "pages": pages, "total": total, "per_page": PER_PAGE,
            "filters": {"status": status, "kanaal": kanaal, "category": category}}


@router.get("/kcc", response_class=HTMLResponse, include_in_schema=False)
def inbox(request: Request, status: str = "", kanaal: str = "", category: str = "", page: str = "1",
          gedaan: str = "", zaak: str = "", p: Principal = Depends(ROLE)) -> HTMLResponse:
    data = inbox_rows(request, status=status, kanaal=kanaal, category=category,
                      page=int(page) if page.isdigit() and len(page) < 7 else 1)
    _store(request).audit(p.username, "inbox_viewed", detail={"page": data["page"], **{
        k: v for k, v in data["filters"].items() if v}})
    f = {k: v for k, v in data["filters"].items() if v}
    link = lambda n: "/kcc?" + urlencode({**f, "page": n})  # noqa: E731
    return render(request, "kcc/inbox.html", {
        "title": "Inbox KCC", "nav": "inbox", **data, **templates_globals, "done": _done_text(gedaan, zaak),
        "prev_url": link(data["page"] - 1) if data["page"] > 1 else None,
        "next_url": link(data["page"] + 1) if data["page"] < data["pages"] else None})


def _done_text(code: str, number: str) -> str | None:
    if code in DONE and NUMBER_RX.fullmatch(number or ""):
        return DONE[code].format(zaak=number)
    return None


# ------------------------------------------------------------------ a case
def case_detail(request: Request, number: str, actor: str) -> dict:
    """Everything the case page shows; an audit event ``case_viewed``.
    NotVisible when the KCC may not see the case."""
    store = _store(request)
    c = _visible_case(store, number)
    with store.session() as s:
        form = s.exec(select(Startformulier).where(Startformulier.case_id == c.id)).first()
        msgs = s.exec(select(InboundRecord.id, InboundRecord.kanaal, InboundRecord.received_at, InboundRecord.afzender,
                             InboundRecord.afzender_naam, InboundRecord.onderwerp, InboundRecord.inhoud)
                      .where(InboundRecord.case_id == c.id).order_by(InboundRecord.id.desc()).limit(MAX_MESSAGES)).all()
        n_msgs = s.exec(select(func.count()).select_from(InboundRecord).where(InboundRecord.case_id == c.id)).one()
        outs = s.exec(select(OutboundRecord.kanaal, OutboundRecord.subject, OutboundRecord.body, OutboundRecord.kind,
                             OutboundRecord.status, OutboundRecord.created_at)
                      .where(OutboundRecord.case_id == c.id).order_by(OutboundRecord.id)).all()
        # the chat an answer goes to (none: the resident started afresh, or it was wiped)
        chat_kanaal = s.exec(select(Conversation.kanaal).where(Conversation.case_id == c.id)).first() \
            if c.kanaal == "chat" else None
    store.audit(actor, "case_viewed", case_id=c.id)
    msgs = list(reversed(msgs))
    first_text = msgs[0].inhoud if msgs else ""
    lang = detect_language(first_text or "")
    kb = _kb(request)
    suggested = None
    if c.answer_id and kb is not None and c.answer_id in kb.answers:
        suggested = kb.render(c.answer_id, lang)
    return {
        "number": c.number, "created_at": aware(c.created_at), "age": age_text(c.created_at), "kanaal": c.kanaal,
        "category": c.category, "domains": list(c.domains or []), "confidence": round(float(c.confidence or 0.0), 4),
        "route": c.route, "priority": c.priority, "destination": c.destination, "wijk": c.wijk,
        "answer_id": c.answer_id, "answer_title": _answer_title(request, c.answer_id), "reasons": list(c.reasons or []),
        "status": c.status, "review": c.review, "reviewed_by": c.reviewed_by, "reviewed_at": aware(c.reviewed_at),
        "returned": bool(c.remark) and c.review is None, "remark": c.remark if c.review is None else None,
        "afzender": c.afzender, "language": lang, "suggested_answer": suggested,
        "messages": [{"kanaal": m.kanaal, "received_at": aware(m.received_at), "afzender": m.afzender,
                      "afzender_naam": m.afzender_naam, "onderwerp": m.onderwerp, "inhoud": m.inhoud} for m in msgs],
        "messages_total": n_msgs,
        "startformulier": {"fields": dict(form.fields or {}) if form else {},
                           "consent": form.consent if form else "onbekend",
                           "hulpvraag": form.hulpvraag if form else ""},
        "replies": [{"kanaal": o.kanaal, "subject": o.subject, "body": o.body, "kind": o.kind, "status": o.status,
                     "created_at": aware(o.created_at)} for o in outs],
        "subject": (msgs[0].onderwerp if msgs else "") or "",
        "chat_kanaal": chat_kanaal,
    }


def _answer_draft(request: Request, d: dict, p: Principal) -> tuple[str, str]:
    """(subject, body) the answer form starts with: the suggested standard
    answer between a greeting and the agent's name."""
    gemeente = request.app.state.triage.municipality.name
    en = d["language"] == "en"
    hello = "Dear Sir or Madam," if en else "Beste heer/mevrouw,"
    bye = "Kind regards," if en else "Met vriendelijke groet,"
    middle = d["suggested_answer"] or ""
    body = f"{hello}\n\n{middle}\n\n{bye}\n\n{p.display_name}\nSociaal Wijkteam {gemeente}\n"
    base = d["subject"].strip() or ("Your message to the Sociaal Wijkteam" if en
                                    else "Uw bericht aan het Sociaal Wijkteam")
    subject = base if base.lower().startswith("re:") else f"Re: {base}"
    return subject, body


def _case_page(request: Request, p: Principal, number: str, *, errors: dict | None = None,
               values: dict | None = None, top_error: str | None = None, done: str | None = None,
               status_code: int = 200) -> HTMLResponse:
    d = case_detail(request, number, p.username)
    subject, body = _answer_draft(request, d, p)
    values = values or {}
    sf = d["startformulier"]
    form_values = values.get("startformulier") or {
        **{k: ("ja" if sf["fields"].get(k) is True else str(sf["fields"].get(k, ""))) for k in FIELDS},
        "consent": sf["consent"], "hulpvraag": sf["hulpvraag"]}
    can_close = d["status"] != "closed" and (d["status"] == "answered" or d["category"] == "info_advies")
    ctx = {"title": f"Zaak {number}", "nav": "inbox", "c": d, **templates_globals, "errors": errors or {},
           "top_error": top_error, "done": done, "can_close": can_close,
           "answer_subject": values.get("answer_subject", subject), "answer_body": values.get("answer_body", body),
           "remark": values.get("remark", ""), "sf": form_values,
           "correct_category": values.get("category", d["category"]),
           "correct_domains": values.get("domains", d["domains"]),
           "crisis_numbers": request.app.state.triage.municipality.placeholders(),
           # the Telegram bot of this `triage serve` runs: it delivers Telegram answers within seconds
           "telegram_on": getattr(getattr(request.app.state, "service", None), "telegram", None) is not None}
    return render(request, "kcc/zaak.html", ctx, status_code)


@router.get("/kcc/zaak/{number}", response_class=HTMLResponse, include_in_schema=False)
def case_page(request: Request, number: str, gedaan: str = "", zaak: str = "",
              p: Principal = Depends(ROLE)) -> HTMLResponse:
    try:
        return _case_page(request, p, number, done=_done_text(gedaan, zaak if zaak == number else ""))
    except NotVisible:
        return _not_found(request)


async def _form(request: Request) -> dict:
    form = await request.form()
    return {k: form.getlist(k) if k == "domains" else form.get(k) for k in form.keys()}


def _validate_correction(category: str | None, domains: list[str]) -> dict:
    errors = {}
    if category not in CATEGORIES:
        errors["category"] = "Kies een categorie."
    bad = [x for x in domains if x not in DOMAINS]
    if bad:
        errors["domains"] = "Kies alleen domeinen uit de lijst."
    elif category == "enkelvoudig" and len(domains) != 1:
        errors["domains"] = "Bij Enkelvoudig hoort precies één domein."
    elif category == "meervoudig" and len(domains) < 2:
        errors["domains"] = "Bij Meervoudig horen minstens twee domeinen."
    return errors


def _validate_form_startformulier(raw: dict, municipality) -> tuple[dict, dict, dict]:
    """(clean fields, errors, kwargs for store.update_startformulier)."""
    given = {k: (raw.get(k) or "") for k in FIELDS if k != "kinderen"}
    given["kinderen"] = "ja" if raw.get("kinderen") in ("ja", "on", "true", "1", True) else ""
    clean, errors = validate_startformulier(given)
    consent = raw.get("consent") or "onbekend"
    if consent not in CONSENT_NAMES:
        errors["consent"] = "Kies ja, nee of niet gevraagd."
    hulpvraag = (raw.get("hulpvraag") or "").strip()
    if len(hulpvraag) > 5000:
        errors["hulpvraag"] = "Te lang: hoogstens 5000 tekens."
    wijk = municipality.wijk_for_postcode(clean.get("postcode")) if clean.get("postcode") else None
    return clean, errors, {"consent": consent, "hulpvraag": hulpvraag, "wijk": wijk}


def _after(number: str, case: Case, moved_code: str, stay_code: str, anchor: str = "") -> RedirectResponse:
    """To the inbox when the case left the KCC queue, else back to the case."""
    if case.queue != "kcc":
        return RedirectResponse(_done_url("/kcc", moved_code, number), status_code=303)
    return RedirectResponse(_done_url(f"/kcc/zaak/{number}", stay_code, number, anchor), status_code=303)


@router.post("/kcc/zaak/{number}/accepteren", include_in_schema=False)
async def accept_page(request: Request, number: str, p: Principal = Depends(ROLE)) -> Response:
    store = _store(request)
    try:
        await run_in_threadpool(_visible_case, store, number)
        c = await run_in_threadpool(store.accept_route, number, p.username)
    except (NotVisible, CaseNotFound):
        return _not_found(request)
    except CaseConflict as exc:
        return await run_in_threadpool(_case_page, request, p, number, top_error=str(exc), status_code=409)
    if c.queue != "kcc":
        return RedirectResponse(_done_url("/kcc", "geaccepteerd_bd", number), status_code=303)
    return RedirectResponse(_done_url("/kcc", "geaccepteerd", number), status_code=303)


@router.post("/kcc/zaak/{number}/verbeteren", include_in_schema=False)
async def correct_page(request: Request, number: str, p: Principal = Depends(ROLE)) -> Response:
    store = _store(request)
    raw = await _form(request)
    category, domains = raw.get("category"), list(raw.get("domains") or [])
    keep = {"category": category, "domains": domains}
    try:
        before = await run_in_threadpool(_visible_case, store, number)
        errors = _validate_correction(category, domains)
        if errors:
            return await run_in_threadpool(lambda: _case_page(request, p, number, errors=errors, values=keep,
                                                              status_code=422))
        if category == before.category and sorted(domains) == sorted(before.domains or []):
            return RedirectResponse(_done_url(f"/kcc/zaak/{number}", "ongewijzigd", number, "#triage"), status_code=303)
        c = await run_in_threadpool(lambda: store.correct_case(number, p.username, category=category, domains=domains))
    except (NotVisible, CaseNotFound):
        return _not_found(request)
    except (CaseConflict, ValueError) as exc:
        return await run_in_threadpool(_case_page, request, p, number, top_error=str(exc), values=keep,
                                                          status_code=409)
    return _after(number, c, "verbeterd_bd", "verbeterd", "#triage")


@router.post("/kcc/zaak/{number}/antwoord", include_in_schema=False)
async def answer_page(request: Request, number: str, p: Principal = Depends(ROLE)) -> Response:
    store = _store(request)
    raw = await _form(request)
    body = (raw.get("body") or "").replace("\r\n", "\n")
    subject = (raw.get("subject") or "").strip()
    keep = {"answer_body": body, "answer_subject": subject}
    errors = {}
    if not body.strip():
        errors["answer_body"] = "Het antwoord is leeg. Schrijf eerst een antwoord."
    elif len(body) > MAX_ANSWER:
        errors["answer_body"] = f"Het antwoord is te lang: hoogstens {MAX_ANSWER} tekens."
    if len(subject) > 200:
        errors["answer_subject"] = "Het onderwerp is te lang: hoogstens 200 tekens."
    try:
        await run_in_threadpool(_visible_case, store, number)
        if errors:
            return await run_in_threadpool(lambda: _case_page(request, p, number, errors=errors, values=keep,
                                                              status_code=422))
        domain = request.app.state.service.intake.domain
        out = await run_in_threadpool(lambda: store.send_answer(number, p.username, body=body,
                                                                subject=subject or None, msgid_domain=domain))
    except (NotVisible, CaseNotFound):
        return _not_found(request)
    except (CaseConflict, ValueError) as exc:
        return await run_in_threadpool(_case_page, request, p, number, errors={"answer_body": str(exc)},
                                                          values=keep, status_code=409)
    code = "verstuurd" if out.kanaal == "email" else "in_chat"
    return RedirectResponse(_done_url(f"/kcc/zaak/{number}", code, number, "#antwoord"), status_code=303)


@router.post("/kcc/zaak/{number}/startformulier", include_in_schema=False)
async def startformulier_page(request: Request, number: str, p: Principal = Depends(ROLE)) -> Response:
    store = _store(request)
    raw = await _form(request)
    keep = {"startformulier": {**{k: (raw.get(k) or "") for k in FIELDS}, "consent": raw.get("consent") or "onbekend",
                               "hulpvraag": raw.get("hulpvraag") or ""}}
    keep["startformulier"]["kinderen"] = "ja" if raw.get("kinderen") else ""
    clean, errors, extra = _validate_form_startformulier(raw, request.app.state.triage.municipality)
    try:
        await run_in_threadpool(_visible_case, store, number)
        if errors:
            return await run_in_threadpool(lambda: _case_page(
                request, p, number, errors={f"sf_{k}": v for k, v in errors.items()}, values=keep,
                top_error="Het startformulier is niet opgeslagen. Verbeter de velden met een foutmelding.",
                status_code=422))
        await run_in_threadpool(lambda: store.update_startformulier(number, p.username, fields=clean, **extra))
    except (NotVisible, CaseNotFound):
        return _not_found(request)
    except (CaseConflict, ValueError) as exc:
        return await run_in_threadpool(_case_page, request, p, number, top_error=str(exc), values=keep,
                                                          status_code=409)
    return RedirectResponse(_done_url(f"/kcc/zaak/{number}", "opgeslagen", number, "#startformulier"),
                            status_code=303)


@router.post("/kcc/zaak/{number}/doorsturen", include_in_schema=False)
async def forward_page(request: Request, number: str, p: Principal = Depends(ROLE)) -> Response:
    store = _store(request)
    raw = await _form(request)
    remark = (raw.get("remark") or "").strip()
    try:
        await run_in_threadpool(_visible_case, store, number)
        if len(remark) > 2000:
            return await run_in_threadpool(lambda: _case_page(
                request, p, number, errors={"remark": "De opmerking is te lang: hoogstens 2000 tekens."},
                values={"remark": remark}, status_code=422))
        await run_in_threadpool(lambda: store.forward_case(number, p.username, remark=remark or None))
    except (NotVisible, CaseNotFound):
        return _not_found(request)
    except CaseConflict as exc:
        return await run_in_threadpool(_case_page, request, p, number, top_error=str(exc),
                                                          values={"remark": remark}, status_code=409)
    return RedirectResponse(_done_url("/kcc", "doorgestuurd", number), status_code=303)


def _close(store, number: str, actor: str) -> Case:
    c = _visible_case(store, number)
    if c.status != "answered" and c.category != "info_advies":
        raise CaseConflict("Het KCC sluit alleen een beantwoorde vraag of een informatievraag. "
                           "Stuur een hulpvraag door naar de bureaudienst.")
    return store.finish_case(number, actor, queue="kcc")


@router.post("/kcc/zaak/{number}/sluiten", include_in_schema=False)
async def close_page(request: Request, number: str, p: Principal = Depends(ROLE)) -> Response:
    store = _store(request)
    try:
        await run_in_threadpool(_close, store, number, p.username)
    except (NotVisible, CaseNotFound):
        return _not_found(request)
    except CaseConflict as exc:
        return await run_in_threadpool(_case_page, request, p, number, top_error=str(exc), status_code=409)
    return RedirectResponse(_done_url("/kcc", "gesloten", number), status_code=303)


# --------------------------------------------------------------- phone note
def preview(request: Request, text: str) -> dict | None:
    """The triage of a note as the agent types it. Stores nothing."""
    text = (text or "")[:MAX_NOTE]
    if not text.strip():
        return None
    t = request.app.state.triage
    r = t.classify(text, channel="phone")
    return {"category": r.category, "domains": list(r.domains), "confidence": r.confidence, "route": r.route,
            "priority": r.priority, "destination": r.destination, "fields": dict(r.fields), "consent": r.consent,
            "answer_title": _answer_title(request, r.answer_id), "reasons": list(r.reasons),
            "crisis": r.category == "crisis" or r.route == "crisis"}


def _note_ctx(request: Request, **kw) -> dict:
    return {"title": "Telefoonnotitie", "nav": "telefoon", **templates_globals,
            "crisis_numbers": request.app.state.triage.municipality.placeholders(), "note": "", "error": None,
            "result": None, "key": secrets.token_urlsafe(24), "crisis_case": None, **kw}


@router.get("/kcc/telefoonnotitie", response_class=HTMLResponse, include_in_schema=False)
def phone_page(request: Request, crisis: str = "", p: Principal = Depends(ROLE)) -> HTMLResponse:
    crisis_case = crisis if NUMBER_RX.fullmatch(crisis) else None
    return render(request, "kcc/telefoonnotitie.html", _note_ctx(request, crisis_case=crisis_case))


@router.post("/kcc/telefoonnotitie/voorbeeld", response_class=HTMLResponse, include_in_schema=False)
async def phone_preview(request: Request, p: Principal = Depends(ROLE)) -> HTMLResponse:
    raw = await _form(request)
    note = raw.get("notitie") or ""
    result = await run_in_threadpool(preview, request, note)
    if request.headers.get("hx-request"):
        return render(request, "kcc/_voorbeeld.html", _note_ctx(request, result=result))
    # without JavaScript: the whole page again, the text kept, the same form token
    key = raw.get("key") if KEY_RX.fullmatch(raw.get("key") or "") else secrets.token_urlsafe(24)
    return render(request, "kcc/telefoonnotitie.html", _note_ctx(request, result=result, note=note, key=key))


def save_phone_note(request: Request, text: str, actor: str, key: str) -> tuple[str, bool, Case]:
    """Store and triage a phone note; a new non-crisis case stays with the
    KCC (the store decides that when it makes the case) so the agent can
    complete the startformulier. Returns (number, duplicate, case)."""
    store = _store(request)
    res = request.app.state.service.intake.receive_phone_note(text, actor, key)
    with store.session() as s:
        c = s.exec(select(Case).where(Case.number == res.case_number)).one()
    return res.case_number, res.duplicate, c


@router.post("/kcc/telefoonnotitie", response_class=HTMLResponse, include_in_schema=False)
async def phone_submit(request: Request, p: Principal = Depends(ROLE)) -> Response:
    raw = await _form(request)
    note = (raw.get("notitie") or "").replace("\r\n", "\n")
    key = raw.get("key") or ""
    error = None
    if not note.strip():
        error = "Typ eerst de notitie van het telefoongesprek."
    elif len(note) > MAX_NOTE:
        error = f"De notitie is te lang: hoogstens {MAX_NOTE} tekens."
    elif not KEY_RX.fullmatch(key):
        error = "Dit formulier is verlopen. Uw tekst staat er nog: sla opnieuw op."
    if error:
        return render(request, "kcc/telefoonnotitie.html", _note_ctx(request, note=note, error=error), 422)
    number, _dup, c = await run_in_threadpool(save_phone_note, request, note, p.username, key)
    if c.category == "crisis" or c.route == "crisis":
        return RedirectResponse("/kcc/telefoonnotitie?" + urlencode({"crisis": number}), status_code=303)
    if can_view_case("kcc", c):
        return RedirectResponse(_done_url(f"/kcc/zaak/{number}", "notitie", number, "#startformulier"), status_code=303)
    return RedirectResponse(_done_url("/kcc", "notitie_bd", number), status_code=303)


# ----------------------------------------------------------------- JSON API
class CaseRow(BaseModel):
    number: str = Field(description="Zaaknummer / case number")
    created_at: datetime
    age: str = Field(description="Wachttijd / how long the case waits, e.g. '3 uur'")
    kanaal: str = Field(description="email, phone, chat or partner")
    category: str
    domains: list[str]
    confidence: float
    route: str = Field(description="Voorgestelde route / suggested route")
    answer_id: str | None = None
    answer_title: str | None = Field(None, description="Titel van het voorgestelde standaardantwoord")
    review: str | None = Field(None, description="accepted, corrected, forwarded, answered or null")
    status: str
    returned: bool = Field(description="Teruggestuurd door de bureaudienst / returned by the bureaudienst")
    remark: str | None = Field(None, description="Opmerking van de bureaudienst bij terugsturen")
    priority: str | None = None


class CaseList(BaseModel):
    items: list[CaseRow]
    page: int
    pages: int
    total: int
    per_page: int


class MessageOut(BaseModel):
    kanaal: str
    received_at: datetime
    afzender: str | None = None
    afzender_naam: str | None = None
    onderwerp: str
    inhoud: str


class ReplyOut(BaseModel):
    kanaal: str
    subject: str
    body: str
    kind: str
    status: str
    created_at: datetime


class StartformulierOut(BaseModel):
    fields: dict
    consent: str
    hulpvraag: str


class CaseDetail(CaseRow):
    reasons: list[str]
    destination: str | None = None
    wijk: str | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    suggested_answer: str | None = Field(None, description="Het standaardantwoord in de taal van het bericht")
    language: str
    messages: list[MessageOut]
    messages_total: int
    startformulier: StartformulierOut
    replies: list[ReplyOut]


class ActionResult(BaseModel):
    number: str
    queue: str = Field(description="kcc or bureaudienst: who holds the case now")
    status: str
    review: str | None
    category: str
    domains: list[str]
    route: str
    message: str = Field(description="Bevestiging in het Nederlands / confirmation in Dutch")


class CorrectIn(BaseModel):
    category: str | None = Field(None, description="info_advies, enkelvoudig, meervoudig or crisis")
    domains: list[str] | None = Field(None, description="The complete new list of domains")


class ForwardIn(BaseModel):
    remark: str | None = Field(None, max_length=2000, description="Opmerking voor de bureaudienst")


class AnswerIn(BaseModel):
    body: str = Field(..., max_length=MAX_ANSWER)
    subject: str | None = Field(None, max_length=200, description="Mail only; the case number is added")


class AnswerOut(BaseModel):
    number: str
    outbound_id: int
    kanaal: str
    subject: str
    status: str
    message: str


class StartformulierIn(BaseModel):
    fields: dict[str, str | bool] = Field(default_factory=dict,
                                          description="Fields to set; an empty value removes a field")
    consent: str | None = Field(None, description="ja, nee or onbekend (niet gevraagd)")
    hulpvraag: str | None = Field(None, max_length=5000)


class PhoneNoteIn(BaseModel):
    text: str = Field(..., max_length=MAX_NOTE, description="De notitie van het telefoongesprek")
    key: str | None = Field(None, description="One-time key (16-100 of A-Z a-z 0-9 _ -): "
                                              "the same key twice makes one case")


class PhoneNoteOut(BaseModel):
    number: str
    duplicate: bool
    category: str
    domains: list[str]
    confidence: float
    route: str
    queue: str
    crisis: bool
    message: str


def _action_result(c: Case, message: str) -> ActionResult:
    return ActionResult(number=c.number, queue=c.queue, status=c.status, review=c.review, category=c.category,
                        domains=list(c.domains or []), route=c.route, message=message)


def _api_case(store, number: str) -> Case:
    try:
        return _visible_case(store, number)
    except NotVisible:
        raise HTTPException(404, "Deze zaak bestaat niet of ligt niet bij het KCC.") from None


def _api_change(store, number: str, fn):
    _api_case(store, number)
    try:
        return fn()
    except CaseNotFound:
        raise HTTPException(404, "Deze zaak bestaat niet of ligt niet bij het KCC.") from None
    except CaseConflict as exc:
        raise HTTPException(409, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/api/kcc/cases", response_model=CaseList, tags=["kcc"])
def api_cases(request: Request, status: str = Query("", description="'' (not closed), open, answered, closed, alle"),
              kanaal: str = "", category: str = "", page: int = Query(1, ge=1, le=100_000),
              p: Principal = Depends(ROLE)) -> CaseList:
    """De inbox van het KCC: open zaken eerst, oudste eerst, 50 per pagina.
    / The KCC inbox: open cases first, oldest first, 50 a page."""
    data = inbox_rows(request, status=status, kanaal=kanaal, category=category, page=page)
    _store(request).audit(p.username, "inbox_viewed", detail={"page": data["page"], "api": True})
    return CaseList(items=data["items"], page=data["page"], pages=data["pages"], total=data["total"],
                    per_page=data["per_page"])


@router.get("/api/kcc/cases/{number}", response_model=CaseDetail, tags=["kcc"])
def api_case(request: Request, number: str, p: Principal = Depends(ROLE)) -> CaseDetail:
    """Een zaak met bericht(en), triage, voorgesteld antwoord en startformulier
    (een audit-event). / One case with its messages, triage, suggested answer
    and startformulier (an audit event)."""
    try:
        return CaseDetail(**case_detail(request, number, p.username))
    except NotVisible:
        raise HTTPException(404, "Deze zaak bestaat niet of ligt niet bij het KCC.") from None


@router.post("/api/kcc/cases/{number}/accept", response_model=ActionResult, tags=["kcc"])
def api_accept(request: Request, number: str, p: Principal = Depends(ROLE)) -> ActionResult:
    """De voorgestelde route klopt. / Accept the suggested route (a bureaudienst
    route moves the case to the bureaudienst)."""
    store = _store(request)
    c = _api_change(store, number, lambda: store.accept_route(number, p.username))
    return _action_result(c, DONE["geaccepteerd_bd" if c.queue != "kcc" else "geaccepteerd"].format(zaak=number))


@router.post("/api/kcc/cases/{number}/correct", response_model=ActionResult, tags=["kcc"])
def api_correct(request: Request, number: str, body: CorrectIn, p: Principal = Depends(ROLE)) -> ActionResult:
    """Categorie en/of domeinen verbeteren (opgeslagen als correctie). /
    Correct the category and/or domains (stored as corrections)."""
    store = _store(request)
    before = _api_case(store, number)
    category = body.category if body.category is not None else before.category
    domains = body.domains if body.domains is not None else list(before.domains or [])
    errors = _validate_correction(category, domains)
    if errors:
        raise HTTPException(422, " ".join(errors.values()))
    c = _api_change(store, number, lambda: store.correct_case(number, p.username, category=body.category,
                                                              domains=body.domains))
    return _action_result(c, DONE["verbeterd_bd" if c.queue != "kcc" else "verbeterd"].format(zaak=number))


@router.post("/api/kcc/cases/{number}/forward", response_model=ActionResult, tags=["kcc"])
def api_forward(request: Request, number: str, body: ForwardIn | None = None,
                p: Principal = Depends(ROLE)) -> ActionResult:
    """Doorsturen naar de bureaudienst, met een opmerking. / Forward to the
    bureaudienst, with an optional remark."""
    store = _store(request)
    remark = ((body.remark if body else None) or "").strip() or None
    c = _api_change(store, number, lambda: store.forward_case(number, p.username, remark=remark))
    return _action_result(c, DONE["doorgestuurd"].format(zaak=number))


@router.post("/api/kcc/cases/{number}/answer", response_model=AnswerOut, tags=["kcc"])
def api_answer(request: Request, number: str, body: AnswerIn, p: Principal = Depends(ROLE)) -> AnswerOut:
    """Het (bewerkte) antwoord versturen via het kanaal van het bericht (mail:
    de outbox; chat: het gesprek; telefoon: 409, bel terug). / Send the edited
    answer through the message's channel (phone: 409, call back)."""
    store = _store(request)
    domain = request.app.state.service.intake.domain
    out = _api_change(store, number, lambda: store.send_answer(number, p.username, body=body.body,
                                                               subject=(body.subject or "").strip() or None,
                                                               msgid_domain=domain))
    return AnswerOut(number=number, outbound_id=out.id, kanaal=out.kanaal, subject=out.subject, status=out.status,
                     message=DONE["verstuurd" if out.kanaal == "email" else "in_chat"].format(zaak=number))


@router.post("/api/kcc/cases/{number}/startformulier", response_model=StartformulierOut, tags=["kcc"])
def api_startformulier(request: Request, number: str, body: StartformulierIn,
                       p: Principal = Depends(ROLE)) -> StartformulierOut:
    """Het startformulier aanvullen (gecontroleerd; elke wijziging is een
    correctie). / Complete the startformulier (validated; each change is a
    correction). Errors: 422 with a message per field."""
    store = _store(request)
    unknown = [k for k in body.fields if k not in FIELDS]
    if unknown:
        raise HTTPException(422, {k: "Onbekend veld." for k in unknown})
    clean, errors = validate_startformulier(dict(body.fields))
    if body.consent is not None and body.consent not in CONSENT_NAMES:
        errors["consent"] = "Kies ja, nee of onbekend."
    if errors:
        raise HTTPException(422, errors)
    postcode = clean.get("postcode")
    wijk = request.app.state.triage.municipality.wijk_for_postcode(postcode) if postcode else None
    form = _api_change(store, number, lambda: store.update_startformulier(
        number, p.username, fields=clean, consent=body.consent, hulpvraag=body.hulpvraag, wijk=wijk))
    return StartformulierOut(fields=form.fields, consent=form.consent, hulpvraag=form.hulpvraag)


@router.post("/api/kcc/cases/{number}/close", response_model=ActionResult, tags=["kcc"])
def api_close(request: Request, number: str, p: Principal = Depends(ROLE)) -> ActionResult:
    """Een beantwoorde vraag of informatievraag sluiten. / Close an answered or
    information-only question."""
    store = _store(request)
    c = _api_change(store, number, lambda: _close(store, number, p.username))
    return _action_result(c, DONE["gesloten"].format(zaak=number))


@router.post("/api/kcc/phone-notes", response_model=PhoneNoteOut, tags=["kcc"])
def api_phone_note(request: Request, body: PhoneNoteIn, p: Principal = Depends(ROLE)) -> PhoneNoteOut:
    """Een telefoonnotitie opslaan en beoordelen; dezelfde key twee keer geeft
    één zaak. Een crisis gaat bovenaan de wachtrij van de bureaudienst. / Store
    and triage a phone note; the same key twice makes one case. A crisis goes
    to the top of the bureaudienst queue."""
    if not body.text.strip():
        raise HTTPException(422, "De notitie is leeg.")
    if body.key is not None and not KEY_RX.fullmatch(body.key):
        raise HTTPException(422, "key: 16 tot 100 tekens A-Z, a-z, 0-9, _ of -.")
    key = body.key or secrets.token_urlsafe(24)
    number, dup, c = save_phone_note(request, body.text.replace("\r\n", "\n"), p.username, key)
    crisis = c.category == "crisis" or c.route == "crisis"
    if crisis:
        msg = f"Crisis: zaak {number} staat bovenaan de wachtrij van de bureaudienst."
    elif c.queue == "kcc":
        msg = DONE["notitie"].format(zaak=number)
    else:
        msg = DONE["notitie_bd"].format(zaak=number)
    return PhoneNoteOut(number=number, duplicate=dup, category=c.category, domains=list(c.domains or []),
                        confidence=c.confidence, route=c.route, queue=c.queue, crisis=crisis, message=msg)
