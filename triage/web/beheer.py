"""The beheer part of the console: figures, the pilot report, the model,
the audit trail and the accounts (see console.py for the shared parts).

Pages (role beheer; every POST carries the login's CSRF token):

    GET  /beheer                   dashboard: charts per ISO week (Europe/Amsterdam), ?weken=4|12|26|52
    GET  /beheer/weken.csv         the weekly series as CSV (?weken=...)
    GET  /beheer/rapport           the pilot evaluation's two tables, ?van=YYYY-MM-DD&tot=YYYY-MM-DD
    GET  /beheer/rapport.csv       both tables as CSV
    GET  /beheer/model             the active model beside each candidate; train, activate, roll back
    GET  /beheer/model/status      the training's status (htmx polls it every 2 s while it runs)
    POST /beheer/model/trainen | activeren | terugdraaien
    GET  /beheer/audit             the audit trail, 100 a page, filters gebruiker/actie/van/tot
    GET  /beheer/gebruikers        the console accounts (read-only: `triage users ...` makes them)
    GET  /api/beheer/stats         the weekly series as JSON
    GET  /api/beheer/report        the pilot tables as JSON

Beheer sees no case data: the figures come from a few columns of the cases
(no text, no name, no address, no number of a resident; see report.py) and
the audit trail shows case numbers and only known harmless detail keys.
Viewing a figure page or the API is the audit event ``report_viewed``, a
download ``report_exported``; viewing the audit trail is ``audit_viewed``.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, timezone
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import String, cast, func, literal, select
from sqlalchemy import case as sql_case

from ..store import Case, Correction, Event, Startformulier
from . import report
from .auth import ROLE_NAMES, Principal, require
from .console import render

router = APIRouter()
ROLE = require("beheer")

WEEK_CHOICES = (4, 12, 26, 52)
DEFAULT_WEEKS = 12
AUDIT_PAGE = 100
VERSION_RX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
DATE_RX = re.compile(r"\d{4}-\d{2}-\d{2}")

# colours for the charts (Okabe-Ito, readable for most colour-blind people), then greys
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#6A3D9A", "#4D4D4D", "#A6761D",
           "#1B7837", "#999999")
CATEGORY_COLOURS = {"info_advies": "#0072B2", "enkelvoudig": "#009E73", "meervoudig": "#E69F00",
                    "crisis": "#B00020", "overig": "#999999"}

ACTION_NAMES = {
    "message_received": "Bericht ontvangen", "message_joined_case": "Bericht bij bestaande zaak",
    "case_created": "Zaak gemaakt", "case_viewed": "Zaak bekeken", "case_escalated_crisis": "Zaak werd crisis",
    "route_accepted": "Route geaccepteerd", "case_corrected": "Zaak verbeterd", "case_forwarded": "Doorgestuurd",
    "answer_sent": "Antwoord verstuurd", "startformulier_changed": "Startformulier gewijzigd",
    "startformulier_completed": "Startformulier ingevuld", "startformulier_exported": "Startformulier geëxporteerd",
    "case_accepted": "Zaak aangenomen", "case_returned": "Terug naar KCC", "case_closed": "Zaak gesloten",
    "case_held_kcc": "Bij KCC gehouden", "case_anonymised": "Zaak geanonimiseerd", "case_deleted": "Zaak verwijderd",
    "reply_queued": "Antwoord klaargezet", "reply_sent": "Antwoord verzonden", "triage_failed": "Indelen mislukt",
    "conversation_started": "Chat begonnen", "chat_restarted": "Chat opnieuw begonnen",
    "crisis_repeated": "Crisisnummers herhaald", "inbox_viewed": "Inbox bekeken", "queue_viewed": "Wachtrij bekeken",
    "login": "Ingelogd", "logout": "Uitgelogd", "user_added": "Account gemaakt", "user_changed": "Account gewijzigd",
    "report_viewed": "Cijfers bekeken", "report_exported": "Cijfers gedownload", "audit_viewed": "Audittrail bekeken",
    "model_trained": "Model getraind", "model_training_started": "Training gestart",
    "model_activated": "Model geactiveerd", "model_rolled_back": "Model teruggedraaid",
}
# detail keys the audit page shows (events hold no personal data by design; this list makes sure)
DETAIL_NAMES = {
    "kanaal": "kanaal", "category": "categorie", "domains": "domeinen", "route": "route", "priority": "prioriteit",
    "changed": "gewijzigd", "remark": "met opmerking", "indicatie": "met indicatie", "kind": "soort",
    "status": "status", "attempt": "poging", "consent": "toestemming", "user": "account", "role": "rol",
    "assigned_to": "toegewezen aan", "tab": "tabblad", "page": "pagina", "weeks": "weken", "van": "van",
    "tot": "tot en met", "format": "formaat", "version": "versie", "previous": "vorige versie", "from": "van versie",
    "n_corrections": "verbeteringen", "macro_f1": "macro-F1", "crisis_recall": "crisis herkend",
    "case_number": "zaak", "api": "via API", "auto_reply": "automatisch antwoord", "attachments": "bijlagen",
}

DONE = {
    "geactiveerd": "Versie {versie} is nu actief. Nieuwe vragen worden vanaf nu met dit model ingedeeld.",
    "teruggedraaid": "Het model is teruggedraaid. Versie {versie} is nu actief.",
}
STATUS_NAMES_MODEL = {"active": "Actief", "candidate": "Nieuw, nog niet gebruikt", "previous": "Eerder actief",
                      "rolled_back": "Teruggedraaid", "shipped": "Meegeleverd"}
METRICS = (  # (key, name, explanation)
    ("macro_f1", "Macro-F1", "Hoe goed het model de vier soorten vragen uit elkaar houdt (gemiddeld over de soorten)."),
    ("accuracy", "Goed ingedeeld", "Het deel van de testvragen dat de juiste soort kreeg."),
    ("crisis_recall", "Crisis herkend", "Het deel van de crisisberichten dat het model herkent. Dit mag niet lager worden."),
    ("domain_micro_f1", "Domeinen (F1)", "Hoe goed het model de levensdomeinen van een vraag vindt."),
)


# ------------------------------------------------------------------ helpers
def _store(request: Request):
    return request.app.state.service.store


def _wijken(request: Request) -> list[str]:
    triage = getattr(request.app.state, "triage", None)
    muni = getattr(triage, "municipality", None)
    return list(dict.fromkeys((muni.postcode_wijk or {}).values())) if muni is not None else []


def _today() -> date:
    return datetime.now(report.TZ).date()


def _pct(x: float | None, digits: int = 0) -> str:
    if x is None:
        return "–"
    return f"{x * 100:.{digits}f}%".replace(".", ",")


def _weeks_param(value: str) -> int:
    return int(value) if value.isdigit() and int(value) in WEEK_CHOICES else DEFAULT_WEEKS


def _in_period(start: datetime, end: datetime) -> tuple:
    return (Case.created_at >= start, Case.created_at < end)


def _week_of(bounds: list[datetime], lo: int, hi: int):
    """The index of the week (lo <= index < hi) a case's created_at falls in,
    as nested CASE expressions that halve the weeks each time (a few
    comparisons per case instead of one per week)."""
    if hi - lo == 1:
        return literal(lo)
    mid = (lo + hi) // 2
    return sql_case((Case.created_at < bounds[mid], _week_of(bounds, lo, mid)), else_=_week_of(bounds, mid, hi))


def weekly_counts(store, weeks: list[report.Week]) -> dict:
    """The counts report.weekly_from_counts reads, from three GROUP BY
    queries (portable: SQLite and PostgreSQL). The week of a case is found
    by the database with the weeks' UTC bounds (Europe/Amsterdam midnights)."""
    bounds = report.week_bounds(weeks)
    week = _week_of(bounds, 0, len(weeks))
    period = _in_period(bounds[0], bounds[-1])

    def grouped(s, *cols):
        inner = select(week.label("week"), *cols).where(*period).subquery()
        keys = [inner.c[c.key] for c in [week.label("week"), *cols]]
        return s.execute(select(*keys, func.count()).group_by(*keys)).all()

    with store.session() as s:
        main = {(int(r[0]), r[1], r[2], r[3], r[4]): r[5]
                for r in grouped(s, Case.kanaal, Case.category, Case.review, Case.route)}
        doms: dict = {}
        for i, text_, n in grouped(s, cast(Case.domains, String).label("domains")):
            try:
                ds = json.loads(text_) if text_ else []
            except ValueError:
                ds = []
            key = (int(i), tuple(sorted(set(d for d in ds if isinstance(d, str)))) if isinstance(ds, list) else ())
            doms[key] = doms.get(key, 0) + n
        wijk: dict = {}
        for i, w, n in grouped(s, Case.wijk):  # an empty wijk and no wijk are both 'onbekend'
            wijk[(int(i), w or None)] = wijk.get((int(i), w or None), 0) + n
    return {"main": main, "domains": doms, "wijk": wijk}


def pilot_counts(store, start: datetime, end: datetime) -> list[dict]:
    """Rows for report.pilot_tables, one per combination with its count ``n``
    (GROUP BY). The aanmelder is read out of the startformulier by the
    database: no other field of it leaves the database."""
    aanmelder = Startformulier.fields["aanmelder"].as_string().label("aanmelder")
    inner = (select(Case.kanaal, Case.category, Case.status, Case.indicatie, aanmelder)
             .select_from(Case).outerjoin(Startformulier, Startformulier.case_id == Case.id)
             .where(*_in_period(start, end)).subquery())
    keys = [inner.c.kanaal, inner.c.category, inner.c.status, inner.c.indicatie, inner.c.aanmelder]
    with store.session() as s:
        rows = s.execute(select(*keys, func.count()).group_by(*keys)).all()
    return [{"kanaal": k, "category": c, "status": st, "indicatie": ind, "aanmelder": a, "n": n}
            for k, c, st, ind, a, n in rows]


def weekly_stats(request: Request, weeks: int) -> dict:
    ws = report.weeks_ending(_today(), weeks)
    return report.weekly_from_counts(weekly_counts(_store(request), ws), ws, _wijken(request))


def _parse_day(value: str) -> date | None:
    if not DATE_RX.fullmatch(value or ""):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def report_period(van: str, tot: str) -> tuple[date, date, str | None]:
    """(first, last, error): the report's days; default 1 January of this year up to today."""
    today = _today()
    first, last = date(today.year, 1, 1), today
    error = None
    if van:
        d = _parse_day(van)
        if d is None:
            error = "De datum bij 'Van' klopt niet. Kies een datum, bijvoorbeeld 2025-01-31."
        else:
            first = d
    if tot and error is None:
        d = _parse_day(tot)
        if d is None:
            error = "De datum bij 'Tot en met' klopt niet. Kies een datum, bijvoorbeeld 2025-12-31."
        else:
            last = d
    if error is None and first > last:
        error = "De datum bij 'Van' ligt na de datum bij 'Tot en met'. Kies een eerdere begindatum."
    if error:
        first, last = date(today.year, 1, 1), today
    return first, last, error


def pilot_report(request: Request, first: date, last: date) -> dict:
    start, end = report.period_bounds(first, last)
    return report.pilot_tables(pilot_counts(_store(request), start, end))


# ------------------------------------------------------------------ charts (inline SVG)
CHART_W, CHART_H = 760, 250
PAD_L, PAD_R, PAD_T, PAD_B = 48, 10, 12, 36


def _nice_max(v: float) -> tuple[float, float]:
    """(axis maximum, step) with 2 to 5 steps of 1, 2 or 5 times a power of ten."""
    if v <= 0:
        return 1, 1
    raw = v / 4
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    step = max(step, 1)
    return step * math.ceil(v / step), step


def bar_chart(cid: str, title: str, weeks: list, series: list[tuple[str, str, list]], *, percent: bool = False,
              note: str = "") -> dict:
    """Geometry of a (stacked) bar chart per week for the template. ``series``:
    (key, name, values) stacked bottom-up; ``percent``: one series of
    fractions 0..1 (None: no bar)."""
    n = max(1, len(weeks))
    plot_w, plot_h = CHART_W - PAD_L - PAD_R, CHART_H - PAD_T - PAD_B
    slot = plot_w / n
    bar_w = max(2.0, min(40.0, slot * 0.72))
    colours = {}
    for i, (key, _, _) in enumerate(series):
        colours[key] = CATEGORY_COLOURS.get(key) if cid == "categorie" else None
        colours[key] = colours[key] or (PALETTE[-1] if key in (report.UNKNOWN_WIJK, "overig") else PALETTE[i % 10])
    if percent:
        top, step = 1.0, 0.25
    else:
        stacks = [sum(v[i] for _, _, v in series) for i in range(len(weeks))]
        top, step = _nice_max(max(stacks, default=0))
    scale = plot_h / top
    bars = []
    for i, w in enumerate(weeks):
        x = PAD_L + i * slot + (slot - bar_w) / 2
        y0 = PAD_T + plot_h
        for key, name, values in series:
            v = values[i]
            if v is None or v == 0:
                continue
            h = v * scale
            y0 -= h
            label = _pct(v) if percent else str(v)
            bars.append({"x": round(x, 1), "y": round(y0, 1), "w": round(bar_w, 1), "h": round(max(h, 0.5), 1),
                         "fill": colours[key], "title": f"{w.label} ({w.span}): {name} {label}"})
    ticks = []
    k = 0
    while k * step <= top + 1e-9:
        v = k * step
        ticks.append({"y": round(PAD_T + plot_h - v * scale, 1), "label": _pct(v) if percent else f"{int(v)}"})
        k += 1
    every = max(1, math.ceil(n / 13))
    xlabels = [{"x": round(PAD_L + i * slot + slot / 2, 1), "label": w.label}
               for i, w in enumerate(weeks) if (len(weeks) - 1 - i) % every == 0]
    return {"id": cid, "title": title, "note": note, "w": CHART_W, "h": CHART_H, "bars": bars, "ticks": ticks,
            "xlabels": xlabels, "x0": PAD_L, "x1": CHART_W - PAD_R, "y0": PAD_T + plot_h,
            "legend": [(name, colours[key]) for key, name, _ in series] if not percent else [],
            "percent": percent}


def dashboard_charts(data: dict, wijk_name=lambda w: w) -> list[dict]:
    ws = data["weeks"]
    names = report.KANALEN | {"overig": "Overig"}
    cats = report.CATEGORIES | {"overig": "Overig"}
    total_col = [("Totaal", data["total"])]
    charts = [
        (bar_chart("kanaal", "Vragen per kanaal", ws, [(k, names[k], v) for k, v in data["kanaal"].items()]),
         [(names[k], v) for k, v in data["kanaal"].items()] + total_col),
        (bar_chart("categorie", "Vragen per soort", ws, [(k, cats[k], v) for k, v in data["category"].items()]),
         [(cats[k], v) for k, v in data["category"].items()] + total_col),
        (bar_chart("domein", "Vragen per levensdomein", ws,
                   [(k, report.DOMAINS[k], v) for k, v in data["domain"].items()],
                   note="Een vraag over meer domeinen telt bij elk domein mee. Een vraag zonder domein telt niet mee."),
         [(report.DOMAINS[k], v) for k, v in data["domain"].items()] + [("Vragen", data["total"])]),
        (bar_chart("wijk", "Vragen per wijk", ws, [(k, wijk_name(k), v) for k, v in data["wijk"].items()],
                   note="'Onbekend': de wijk is (nog) niet bekend, bijvoorbeeld omdat er geen postcode is."),
         [(wijk_name(k), v) for k, v in data["wijk"].items()] + total_col),
        (bar_chart("akkoord", "Akkoord met de suggestie", ws, [("akkoord", "Akkoord", data["agreement"])],
                   percent=True,
                   note="Van de zaken die het KCC beoordeelde: het deel waarbij het KCC de voorgestelde route "
                        "accepteerde zonder iets te verbeteren. Een week zonder beoordelingen heeft geen staaf."),
         [("Beoordeeld", data["reviewed"]), ("Zonder verbetering", data["accepted"]),
          ("Verbeterd", data["corrected"]), ("Akkoord", [_pct(x) for x in data["agreement"]])]),
        (bar_chart("standaardantwoord", "Beantwoord met een standaardantwoord", ws,
                   [("auto", "Standaardantwoord", data["auto_answer_rate"])], percent=True,
                   note="Het deel van alle vragen dat de assistent zelf beantwoordde met een standaardantwoord."),
         [("Vragen", data["total"]), ("Standaardantwoord", data["auto_answer"]),
          ("Deel", [_pct(x) for x in data["auto_answer_rate"]])]),
    ]
    out = []
    for chart, columns in charts:
        chart["columns"] = [name for name, _ in columns]
        chart["rows"] = [(w, [col[i] for _, col in columns]) for i, w in enumerate(ws)]
        out.append(chart)
    return out


def _wijk_name(w: str) -> str:
    return "Onbekend" if w == report.UNKNOWN_WIJK else w


# ------------------------------------------------------------------ dashboard
@router.get("/beheer", response_class=HTMLResponse, include_in_schema=False)
def dashboard(request: Request, weken: str = "", p: Principal = Depends(ROLE)) -> HTMLResponse:
    n = _weeks_param(weken)
    data = weekly_stats(request, n)
    _store(request).audit(p.username, "report_viewed", detail={"page": "dashboard", "weeks": n})
    t = data["totals"]
    ws = data["weeks"]
    return render(request, "beheer/home.html", {
        "title": "Dashboard", "nav": "dashboard", "weeks": n, "week_choices": WEEK_CHOICES, "t": t,
        "first": ws[0], "last": ws[-1], "charts": dashboard_charts(data, _wijk_name),
        "kanaal_names": report.KANALEN | {"overig": "Overig"}, "pct": _pct})


@router.get("/beheer/weken.csv", include_in_schema=False)
def weeks_csv(request: Request, weken: str = "", p: Principal = Depends(ROLE)) -> Response:
    n = _weeks_param(weken)
    data = weekly_stats(request, n)
    _store(request).audit(p.username, "report_exported", detail={"page": "weken", "weeks": n, "format": "csv"})
    ws = data["weeks"]
    name = f"weekcijfers-{ws[0].key}-{ws[-1].key}.csv"
    return Response(report.weekly_csv(data, _wijk_name), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


# ------------------------------------------------------------------ pilot report
@router.get("/beheer/rapport", response_class=HTMLResponse, include_in_schema=False)
def report_page(request: Request, van: str = "", tot: str = "", p: Principal = Depends(ROLE)) -> HTMLResponse:
    first, last, error = report_period(van, tot)
    tables = pilot_report(request, first, last)
    _store(request).audit(p.username, "report_viewed", detail={"page": "rapport", "van": first.isoformat(),
                                                                "tot": last.isoformat()})
    return render(request, "beheer/rapport.html", {
        "title": "Rapportage", "nav": "rapport", "first": first, "last": last, "error": error,
        "van": van if error else first.isoformat(), "tot": tot if error else last.isoformat(),
        "r": tables, "pct": _pct, "share": lambda n: _pct(report.percent(n, tables["total"]), 1),
        "csv_url": "/beheer/rapport.csv?" + urlencode({"van": first.isoformat(), "tot": last.isoformat()})},
        400 if error else 200)


@router.get("/beheer/rapport.csv", include_in_schema=False)
def report_csv(request: Request, van: str = "", tot: str = "", p: Principal = Depends(ROLE)) -> Response:
    first, last, error = report_period(van, tot)
    if error:
        return Response(error, status_code=400, media_type="text/plain; charset=utf-8")
    tables = pilot_report(request, first, last)
    _store(request).audit(p.username, "report_exported", detail={"page": "rapport", "van": first.isoformat(),
                                                                  "tot": last.isoformat(), "format": "csv"})
    name = f"rapportage-{first.isoformat()}-{last.isoformat()}.csv"
    return Response(report.report_csv(tables, first, last), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


# ------------------------------------------------------------------ model
def _service(request: Request):
    return request.app.state.service


def corrected_cases(store) -> int:
    """Cases with a corrected category or domains (what the next training learns from)."""
    q = select(func.count(func.distinct(Correction.case_id))).where(Correction.field.in_(("category", "domains")))
    with store.session() as s:
        return int(s.execute(q).scalar() or 0)


def _metric_rows(mine: dict | None, active: dict | None) -> list[dict]:
    rows = []
    for key, name, why in METRICS:
        a = (mine or {}).get(key)
        b = (active or {}).get(key)
        diff = None if a is None or b is None else a - b
        rows.append({"key": key, "name": name, "why": why, "mine": _pct(a, 1), "active": _pct(b, 1),
                     "diff": "–" if diff is None else ("gelijk" if abs(diff) < 0.0005 else
                                                       f"{'+' if diff > 0 else '−'}{abs(diff) * 100:.1f}".replace(".", ",")),
                     "worse": diff is not None and diff < -0.0005})
    return rows


def _when(iso: str | None) -> str:
    if not iso:
        return "onbekend"
    try:
        d = datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    if d.tzinfo is None and len(str(iso)) <= 10:
        return d.strftime("%d-%m-%Y")
    return (d if d.tzinfo else d.replace(tzinfo=timezone.utc)).astimezone(report.TZ).strftime("%d-%m-%Y %H:%M")


def model_state(request: Request) -> dict:
    from ..retrain import SHIPPED, NothingToRollBack

    svc = _service(request)
    reg = svc.registry
    versions = reg.versions()
    active = next((v for v in versions if v.get("active")), None) or reg.info(reg.active()[0])
    try:
        target, _ = reg.rollback_target()
    except NothingToRollBack:
        target = None
    rows = []
    for v in versions:
        if v.get("active"):
            continue
        cmp = reg.compare(v["version"])
        rows.append({
            "version": v["version"], "shipped": v["version"] == SHIPPED,
            "status": STATUS_NAMES_MODEL.get(v.get("status"), v.get("status") or ""),
            "created": _when(v.get("created_at")), "created_by": v.get("created_by") or "onbekend",
            "n_corrections": v.get("n_corrections") or 0, "can_activate": bool(v.get("can_activate")),
            "why_not": v.get("why_not"), "same_run": cmp["same_run"], "comparable": cmp["comparable"],
            "n_heldout": v.get("n_heldout"),
            "active_version": cmp["active"]["version"],
            "metrics": _metric_rows(cmp["candidate"]["metrics"], cmp["active"]["metrics"]),
        })
    status = svc.retrain.status() if svc.retrain is not None else {"state": "idle"}
    return {
        "active": {"version": active["version"], "shipped": active["version"] == SHIPPED,
                   "created": _when(active.get("created_at")), "created_by": active.get("created_by") or "onbekend",
                   "n_corrections": active.get("n_corrections") or 0,
                   "metrics": _metric_rows(active.get("metrics"), None)},
        "in_use": svc.model_version, "pinned": svc.model_pinned, "versions": rows, "rollback_to": target,
        "job": _job_view(status), "corrected_cases": corrected_cases(svc.store),
        "min_recall": _pct(reg.min_crisis_recall, 1),
    }


def _job_view(st: dict) -> dict:
    out = dict(st)
    for k in ("started_at", "finished_at"):
        if out.get(k):
            out[k] = _when(out[k])
    return out


def _model_page(request: Request, *, done: str | None = None, error: str | None = None,
                status_code: int = 200) -> HTMLResponse:
    return render(request, "beheer/model.html", {"title": "Model", "nav": "model", "m": model_state(request),
                                                  "done": done, "error": error}, status_code)


@router.get("/beheer/model", response_class=HTMLResponse, include_in_schema=False)
def model_page(request: Request, gedaan: str = "", versie: str = "", p: Principal = Depends(ROLE)) -> HTMLResponse:
    done = None
    if gedaan in DONE and (not versie or VERSION_RX.fullmatch(versie)):
        done = DONE[gedaan].format(versie=versie or "")
    return _model_page(request, done=done)


@router.get("/beheer/model/status", response_class=HTMLResponse, include_in_schema=False)
def model_status(request: Request, p: Principal = Depends(ROLE)) -> HTMLResponse:
    """The status block; htmx asks for it every 2 s while a training runs.
    When it has ended, the model page is loaded again (HX-Redirect) to show
    the new version beside the active one."""
    svc = _service(request)
    st = svc.retrain.status() if svc.retrain is not None else {"state": "idle"}
    resp = render(request, "beheer/_model_status.html", {"job": _job_view(st)})
    if request.headers.get("hx-request") and st.get("state") != "running":
        resp.headers["HX-Redirect"] = "/beheer/model"
    return resp


@router.post("/beheer/model/trainen", response_class=HTMLResponse, include_in_schema=False)
def model_train(request: Request, start: str = Form(""), p: Principal = Depends(ROLE)) -> Response:
    from ..retrain import ModelError

    if start != "ja":  # only the page's button starts a training (it takes minutes of processor time)
        return _model_page(request, error="Start de training met de knop 'Nieuw model trainen met de correcties'.",
                           status_code=422)
    svc = _service(request)
    try:
        svc.retrain.start(p.username)
    except ModelError as exc:
        return _model_page(request, error=str(exc), status_code=409)
    svc.store.audit(p.username, "model_training_started", detail={})
    return RedirectResponse("/beheer/model#kop-trainen", status_code=303)  # the status block says it runs


@router.post("/beheer/model/activeren", response_class=HTMLResponse, include_in_schema=False)
def model_activate(request: Request, versie: str = Form(""), p: Principal = Depends(ROLE)) -> Response:
    from ..retrain import ModelError, UnknownVersion

    if not VERSION_RX.fullmatch(versie):
        return _model_page(request, error="Kies een modelversie om te activeren.", status_code=422)
    try:
        info = _service(request).activate_model(versie, p.username)
    except UnknownVersion as exc:
        return _model_page(request, error=str(exc), status_code=404)
    except ModelError as exc:  # the safety gate (ActivationRefused), pinned, not loadable
        return _model_page(request, error=str(exc), status_code=409)
    return RedirectResponse("/beheer/model?" + urlencode({"gedaan": "geactiveerd", "versie": info["version"]}),
                            status_code=303)


@router.post("/beheer/model/terugdraaien", response_class=HTMLResponse, include_in_schema=False)
def model_rollback(request: Request, p: Principal = Depends(ROLE)) -> Response:
    from ..retrain import ModelError

    try:
        info = _service(request).rollback_model(p.username)
    except ModelError as exc:  # nothing to roll back, pinned, not loadable
        return _model_page(request, error=str(exc), status_code=409)
    return RedirectResponse("/beheer/model?" + urlencode({"gedaan": "teruggedraaid", "versie": info["version"]}),
                            status_code=303)


# ------------------------------------------------------------------ audit trail
def _detail_text(detail: dict | None) -> list[tuple[str, str]]:
    """Only known, harmless keys, as (name, value) for the page."""
    out = []
    for key, name in DETAIL_NAMES.items():
        if not isinstance(detail, dict) or key not in detail:
            continue
        v = detail[key]
        if isinstance(v, bool):
            text = "ja" if v else "nee"
        elif v is None:
            text = "–"
        elif isinstance(v, (int, float)):
            text = f"{v:.4g}".replace(".", ",") if isinstance(v, float) else str(v)
        elif isinstance(v, str):
            text = v[:60]
        elif isinstance(v, list) and all(isinstance(x, str) for x in v):
            text = ", ".join(x[:40] for x in v[:10]) or "–"
        else:
            continue
        out.append((name, text))
    return out


def audit_rows(store, *, actor: str, action: str, first: date | None, last: date | None, page: int) -> dict:
    conds = []
    if actor:
        conds.append(Event.actor == actor)
    if action:
        conds.append(Event.action == action)
    if first or last:
        start, end = report.period_bounds(first or date(2000, 1, 1), last or date(2999, 12, 31))
        if first:
            conds.append(Event.at >= start)
        if last:
            conds.append(Event.at < end)
    with store.session() as s:
        total = int(s.execute(select(func.count()).select_from(Event).where(*conds)).scalar() or 0)
        pages = max(1, math.ceil(total / AUDIT_PAGE))
        page = min(max(1, page), pages)
        q = (select(Event.at, Event.actor, Event.action, Event.detail, Case.number)
             .select_from(Event).outerjoin(Case, Case.id == Event.case_id).where(*conds)
             .order_by(Event.at.desc(), Event.id.desc()).offset((page - 1) * AUDIT_PAGE).limit(AUDIT_PAGE))
        rows = [{"at": r.at, "actor": r.actor, "action": r.action, "action_name": ACTION_NAMES.get(r.action, r.action),
                 "number": r.number, "detail": _detail_text(r.detail)} for r in s.execute(q)]
        actors = [a for (a,) in s.execute(select(Event.actor).distinct().order_by(Event.actor))]
        actions = [a for (a,) in s.execute(select(Event.action).distinct().order_by(Event.action))]
    return {"rows": rows, "total": total, "page": page, "pages": pages, "actors": actors,
            "actions": sorted(actions, key=lambda a: ACTION_NAMES.get(a, a).lower())}


@router.get("/beheer/audit", response_class=HTMLResponse, include_in_schema=False)
def audit_page(request: Request, gebruiker: str = "", actie: str = "", van: str = "", tot: str = "",
               pagina: str = "1", p: Principal = Depends(ROLE)) -> HTMLResponse:
    gebruiker, actie = gebruiker[:100], actie[:50]
    error = None
    first = _parse_day(van) if van else None
    last = _parse_day(tot) if tot else None
    if (van and first is None) or (tot and last is None):
        error = "Een datum klopt niet. Kies een datum, bijvoorbeeld 2025-01-31."
        first = first if van and first else None
        last = last if tot and last else None
    page = int(pagina) if pagina.isdigit() and len(pagina) < 7 else 1
    store = _store(request)
    data = audit_rows(store, actor=gebruiker, action=actie, first=first, last=last, page=page)
    store.audit(p.username, "audit_viewed", detail={"page": data["page"]})
    f = {k: v for k, v in {"gebruiker": gebruiker, "actie": actie, "van": van if first else "",
                            "tot": tot if last else ""}.items() if v}
    link = lambda n: "/beheer/audit?" + urlencode({**f, "pagina": n})  # noqa: E731
    return render(request, "beheer/audit.html", {
        "title": "Audittrail", "nav": "audit", **data, "f": {"gebruiker": gebruiker, "actie": actie, "van": van,
                                                              "tot": tot},
        "error": error, "action_names": ACTION_NAMES,
        "prev_url": link(data["page"] - 1) if data["page"] > 1 else None,
        "next_url": link(data["page"] + 1) if data["page"] < data["pages"] else None},
        400 if error else 200)


# ------------------------------------------------------------------ accounts
@router.get("/beheer/gebruikers", response_class=HTMLResponse, include_in_schema=False)
def users_page(request: Request, p: Principal = Depends(ROLE)) -> HTMLResponse:
    users = sorted(_store(request).list_users(), key=lambda u: (u.role, u.username.lower()))
    rows = [{"username": u.username, "display_name": u.display_name, "role": ROLE_NAMES.get(u.role, u.role),
             "active": u.active, "last_login": u.last_login_at, "created": u.created_at} for u in users]
    return render(request, "beheer/gebruikers.html", {"title": "Gebruikers", "nav": "gebruikers", "users": rows})


# ------------------------------------------------------------------ JSON API
class BeheerWeek(BaseModel):
    week: str = Field(description="ISO week, e.g. 2026-W47 (Europe/Amsterdam)")
    start: date = Field(description="Monday")
    end: date = Field(description="Sunday")
    total: int = Field(description="questions that came in this week")
    kanaal: dict[str, int] = Field(description="per kanaal: email, phone, chat (partner, overig when used)")
    category: dict[str, int]
    domain: dict[str, int] = Field(description="a case with several domains counts for each")
    wijk: dict[str, int] = Field(description="per wijk; 'onbekend' when the case has none")
    reviewed: int = Field(description="cases the KCC reviewed: accepted + corrected")
    accepted: int = Field(description="accepted without correction")
    corrected: int
    agreement: float | None = Field(description="accepted / reviewed; null without reviews")
    auto_answer: int = Field(description="cases with route auto_answer")
    auto_answer_rate: float | None = Field(description="auto_answer / total; null for an empty week")


class BeheerTotals(BaseModel):
    total: int
    reviewed: int
    accepted: int
    corrected: int
    agreement: float | None
    auto_answer: int
    auto_answer_rate: float | None
    kanaal: dict[str, int]
    category: dict[str, int]
    domain: dict[str, int]
    wijk: dict[str, int]


class BeheerStats(BaseModel):
    weeks: int
    start: date
    end: date
    timezone: str = "Europe/Amsterdam"
    totals: BeheerTotals
    series: list[BeheerWeek]


class BeheerReportRow(BaseModel):
    key: str
    name: str
    count: int
    share: float | None = Field(description="count / total")


class BeheerReport(BaseModel):
    van: date
    tot: date = Field(description="inclusive")
    total: int
    channels: list[BeheerReportRow] = Field(description="Binnengekomen vragen per kanaal (partners: aanmelder is "
                                                        "partner, whatever the medium)")
    nature: list[BeheerReportRow] = Field(description="Aard van de vragen (met indicatie: ticked by the bureaudienst "
                                                      "at closing)")
    open_without_indicatie: int = Field(description="enkelvoudig/meervoudig cases not closed yet (counted as zonder "
                                                    "indicatie)")


class BeheerError(BaseModel):
    detail: str


@router.get("/api/beheer/stats", response_model=BeheerStats, tags=["beheer"],
            summary="Weekly figures (ISO weeks, Europe/Amsterdam); viewing is an audit event")
def api_stats(request: Request, weken: int = DEFAULT_WEEKS, p: Principal = Depends(ROLE)) -> Response:
    if weken not in WEEK_CHOICES:
        return JSONResponse({"detail": f"weken is een van {', '.join(map(str, WEEK_CHOICES))}."}, status_code=422)
    data = weekly_stats(request, weken)
    _store(request).audit(p.username, "report_viewed", detail={"page": "stats", "weeks": weken, "api": True})
    ws = data["weeks"]
    # plain dicts in the shape of BeheerStats (the test checks the shape against the model)
    series = [{"week": w.key, "start": w.start.isoformat(), "end": w.end.isoformat(), "total": data["total"][i],
               **{g: {k: v[i] for k, v in data[g].items()} for g in ("kanaal", "category", "domain", "wijk")},
               **{k: data[k][i] for k in ("reviewed", "accepted", "corrected", "agreement", "auto_answer",
                                          "auto_answer_rate")}} for i, w in enumerate(ws)]
    return JSONResponse({"weeks": weken, "start": ws[0].start.isoformat(), "end": ws[-1].end.isoformat(),
                         "timezone": "Europe/Amsterdam", "totals": data["totals"], "series": series})


@router.get("/api/beheer/report", response_model=BeheerReport, responses={422: {"model": BeheerError}},
            tags=["beheer"], summary="The pilot evaluation's two tables for a period; viewing is an audit event")
def api_report(request: Request, van: str = "", tot: str = "", p: Principal = Depends(ROLE)) -> Response:
    first, last, error = report_period(van, tot)
    if error:
        return JSONResponse({"detail": error}, status_code=422)
    t = pilot_report(request, first, last)
    _store(request).audit(p.username, "report_viewed", detail={"page": "report", "van": first.isoformat(),
                                                                "tot": last.isoformat(), "api": True})

    def rows(items):
        return [BeheerReportRow(key=k, name=name, count=n, share=report.percent(n, t["total"])) for k, name, n in items]

    out = BeheerReport(van=first, tot=last, total=t["total"], channels=rows(t["channels"]), nature=rows(t["nature"]),
                       open_without_indicatie=t["open_without"])
    return JSONResponse(out.model_dump(mode="json"))


__all__ = ["router", "weekly_counts", "pilot_counts", "weekly_stats", "pilot_report", "bar_chart", "dashboard_charts", "audit_rows",
           "model_state", "BeheerStats", "BeheerReport"]
