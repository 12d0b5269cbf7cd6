"""The startformulier as a document, for the KCC and the bureaudienst: a
printable page, a PDF made on the server, JSON for the municipality's
registration system, and the JSON route that edits it.

    GET /zaak/{number}/startformulier        printable page (A4 print CSS)
    GET /zaak/{number}/startformulier.pdf    PDF (fpdf2)
    GET /api/cases/{number}/startformulier   JSON (?download=1: as a file)
    PUT /api/cases/{number}/startformulier   change fields (422: Dutch errors per field)

Each role only for the cases ``can_view_case`` lets it see; any other case
answers 404, the same as a case that does not exist. Every export is an
audit event ``startformulier_exported`` with its format; every change goes
through ``Store.update_startformulier`` (corrections and an audit event).

The PDF uses the PDF core font Helvetica (Windows-1252: é, ë, ç, €) and
embeds Debian's DejaVu Sans only for a text that needs more (Ł, ş, ğ ...);
without DejaVu such characters print as "?".

This router is included by bureaudienst.py (the console's routers are
listed in app.py).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fpdf import FPDF  # imported here: its first import takes longer than a page may
from fpdf.fonts import FontFace
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import select
from starlette.concurrency import run_in_threadpool

from ..forms import AANMELDERS, FIELD_LABELS, FIELDS, validate_startformulier
from ..store import Case, CaseNotFound, Startformulier, Store
from .auth import Principal, require
from .console import CATEGORY_NAMES, DOMAIN_NAMES, aware, local_time, render, visible_case

__all__ = ["router", "visible_case", "export_data", "save_startformulier", "render_pdf", "case_page_url",
           "StartformulierExport", "CONSENT_NAMES", "CONSENT_QUESTION", "field_text"]

router = APIRouter()
VIEWERS = require("kcc", "bureaudienst")

CONSENT_NAMES = {"ja": "Ja", "nee": "Nee", "onbekend": "Onbekend (nog niet gevraagd)"}
CONSENT_QUESTION = "Toestemming om de zaak in het wijkteam te bespreken en gegevens te delen met andere organisaties"
MAX_HULPVRAAG = 5000
NOT_FILLED = "(niet ingevuld)"
# where each role reads a case in the console
CASE_PAGES = {"bureaudienst": "/bureaudienst/zaak/{}", "kcc": "/kcc/zaak/{}"}
UNICODE_FONTS = (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
                 Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"))


def case_page_url(role: str, number: str) -> str:
    return CASE_PAGES.get(role, "/console").format(number)


# ------------------------------------------------------------------ reading
def export_data(store: Store, c: Case) -> dict:
    """The startformulier in the labeling guide's field names and forms
    (absent fields are absent), with the case's number, category, domains,
    wijk and date."""
    with store.session() as s:
        form = s.exec(select(Startformulier).where(Startformulier.case_id == c.id)).first()
    stored = dict(form.fields or {}) if form else {}
    fields = {k: stored[k] for k in FIELDS if stored.get(k) not in (None, "", [])}
    return {"case_number": c.number, "category": c.category, "domains": list(c.domains or []), "wijk": c.wijk,
            "created_at": aware(c.created_at), "fields": fields,
            "consent": form.consent if form else "onbekend", "hulpvraag": form.hulpvraag if form else ""}


def field_text(name: str, value: Any) -> str:
    """A field's value as a person reads it (dates as dd-mm-jjjj)."""
    if value in (None, "", []):
        return NOT_FILLED
    if name == "kinderen":
        return "Ja" if value is True else NOT_FILLED
    if name == "aanmelder":
        return AANMELDERS.get(value, str(value))
    if name == "geboortedatum" and isinstance(value, str) and len(value) == 10 and value[4] == "-":
        return f"{value[8:10]}-{value[5:7]}-{value[0:4]}"
    return str(value)


# ------------------------------------------------------------------ writing
def save_startformulier(store: Store, municipality, number: str, actor: str, *, raw_fields: dict,
                        consent: str | None, hulpvraag: str | None) -> dict:
    """Validate a person's startformulier (triage.forms) and store it.
    Returns the errors per field (Dutch); nothing is stored when there is
    one. The wijk follows a new postcode."""
    unknown = [k for k in raw_fields if k not in FIELDS]
    clean, errors = validate_startformulier({k: v for k, v in raw_fields.items() if k in FIELDS})
    for k in unknown:
        errors[str(k)[:50]] = "Dit veld bestaat niet op het startformulier."
    if consent is not None and consent not in CONSENT_NAMES:
        errors["consent"] = "Kies ja, nee of onbekend."
    if hulpvraag is not None and len(hulpvraag) > MAX_HULPVRAAG:
        errors["hulpvraag"] = f"Te lang: hoogstens {MAX_HULPVRAAG} tekens."
    if errors:
        return errors
    wijk = municipality.wijk_for_postcode(clean.get("postcode")) if clean.get("postcode") else None
    store.update_startformulier(number, actor, fields=clean, consent=consent,
                                hulpvraag=hulpvraag.strip() if hulpvraag is not None else None, wijk=wijk)
    return {}


# ---------------------------------------------------------------------- PDF
def _needs_unicode(texts) -> bool:
    for t in texts:
        try:
            t.encode("cp1252")
        except UnicodeEncodeError:
            return True
    return False


class _Pdf(FPDF):
    footer_text = ""
    footer_family = "Helvetica"

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.footer_family, "", 8)
        self.cell(0, 5, f"{self.footer_text} - pagina {self.page_no()} van {{nb}}", align="C")


def render_pdf(data: dict, municipality_name: str, *, compress: bool = True, unicode_fonts=UNICODE_FONTS) -> bytes:
    """The startformulier as an A4 PDF."""
    rows = [(FIELD_LABELS[k], field_text(k, data["fields"].get(k))) for k in FIELDS]
    category = CATEGORY_NAMES.get(data["category"], data["category"])
    domains = ", ".join(DOMAIN_NAMES.get(d, d) for d in data["domains"]) or "geen"
    created = local_time(data["created_at"])
    printed = local_time(datetime.now(timezone.utc))
    texts = [v for _, v in rows] + [data["hulpvraag"], data.get("wijk") or "", municipality_name]

    pdf = _Pdf(format="A4", unit="mm")
    pdf.set_compression(compress)
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, margin=16)
    family = "Helvetica"
    if _needs_unicode(texts) and all(p.exists() for p in unicode_fonts):
        pdf.add_font("DejaVu", "", str(unicode_fonts[0]))
        pdf.add_font("DejaVu", "B", str(unicode_fonts[1]))
        family = "DejaVu"
    else:
        pdf.core_fonts_encoding = "windows-1252"
    pdf.footer_family = family

    def t(s: str) -> str:  # core fonts: what Windows-1252 cannot hold prints as "?"
        return s if family == "DejaVu" else s.encode("cp1252", "replace").decode("cp1252")

    number = data["case_number"]
    pdf.set_title(t(f"Startformulier {number}"))
    pdf.set_author(t(f"Sociaal Wijkteam {municipality_name}"))
    pdf.set_creator("kcc-triage")
    pdf.footer_text = f"Startformulier {number}"
    pdf.add_page()
    width = pdf.epw

    def pairs(items, label_width: float, lines: bool = True) -> None:
        """Label (bold) and value side by side; a long value wraps and its row grows."""
        pdf.set_font(family, "", 11)
        pdf.set_draw_color(200, 200, 200)
        with pdf.table(col_widths=(label_width, width - label_width), width=width, align="LEFT", text_align="LEFT",
                       first_row_as_headings=False, line_height=5.2, padding=(0.6, 1, 0.6, 0),
                       borders_layout="HORIZONTAL_LINES" if lines else "NONE") as table:
            for label, value in items:
                row = table.row()
                row.cell(t(label), style=FontFace(emphasis="BOLD"))
                row.cell(t(value))

    def heading(text: str) -> None:
        pdf.ln(3)
        pdf.set_font(family, "B", 13)
        pdf.cell(width, 7, text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_draw_color(120, 120, 120)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
        pdf.ln(1.5)

    def paragraph(text: str, size: int = 11) -> None:
        pdf.set_font(family, "", size)
        pdf.multi_cell(width, size * 0.5 + 0.5, t(text), align="L", new_x="LMARGIN", new_y="NEXT")

    paragraph(f"Gemeente {municipality_name} - Sociaal Wijkteam", 10)
    pdf.set_font(family, "B", 18)
    pdf.cell(width, 11, "Startformulier", new_x="LMARGIN", new_y="NEXT")
    pairs((("Zaaknummer", number), ("Datum aanmelding", created), ("Afgedrukt op", printed)), 45, lines=False)

    heading("Gegevens van de inwoner")
    pairs(rows, 62)

    heading("Toestemming")
    paragraph(f"{CONSENT_QUESTION}: {CONSENT_NAMES.get(data['consent'], data['consent'])}")

    heading("Hulpvraag")
    paragraph(data["hulpvraag"] or NOT_FILLED)

    heading("Indeling")
    pairs((("Soort vraag", category), ("Domeinen", domains), ("Wijk", data.get("wijk") or "onbekend")), 45, lines=False)

    pdf.ln(4)
    paragraph("Vertrouwelijk: dit formulier bevat persoonsgegevens. Verstuur het niet per e-mail; "
              "bewaar het alleen in het registratiesysteem van de gemeente.", 9)
    return bytes(pdf.output())


# ------------------------------------------------------------------- routes
class StartformulierExport(BaseModel):
    case_number: str = Field(description="Zaaknummer, SWT-JJJJ-NNNNNN")
    category: str = Field(description="info_advies, enkelvoudig, meervoudig of crisis")
    domains: list[str]
    wijk: str | None
    created_at: datetime
    fields: dict[str, str | bool] = Field(
        description="Velden zoals in labeling-guide.md: naam, geboortedatum (JJJJ-MM-DD), bsn (9 cijfers, elfproef), "
                    "telefoon (0612345678), email, straat_huisnummer, postcode (1781 AB), woonplaats, aanmelder "
                    "(inwoner, naaste, partner), aanmelder_organisatie, kinderen (true). Wat niet bekend is, ontbreekt.")
    consent: str = Field(description="ja, nee of onbekend")
    hulpvraag: str


class StartformulierChange(BaseModel):
    fields: dict[str, Any] = Field(default_factory=dict, description="Alleen de velden die veranderen; een lege "
                                   "waarde wist het veld. Namen en vormen zoals in labeling-guide.md.")
    consent: str | None = Field(None, description="ja, nee of onbekend")
    hulpvraag: str | None = None


class StartformulierErrors(BaseModel):
    detail: str
    errors: dict[str, str] = Field(description="Per veld een foutmelding in het Nederlands")


class ConsoleError(BaseModel):
    detail: str


def _store(request: Request) -> Store:
    return request.app.state.service.store


def _not_found(request: Request) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": "Zaak niet gevonden."}, status_code=404)
    return render(request, "error.html", {"title": "Zaak niet gevonden",
                                          "message": "Deze zaak bestaat niet of hoort niet bij uw werk."}, 404)


def _export(store: Store, p: Principal, number: str, fmt: str) -> dict:
    c = visible_case(store, p.role, number)
    data = export_data(store, c)
    store.audit(p.username, "startformulier_exported", case_id=c.id, detail={"format": fmt})
    return data


@router.get("/zaak/{number}/startformulier", response_class=HTMLResponse, include_in_schema=False)
def print_page(request: Request, number: str, p: Principal = Depends(VIEWERS)) -> Response:
    store = _store(request)
    try:
        data = _export(store, p, number, "html")
    except CaseNotFound:
        return _not_found(request)
    muni = request.app.state.triage.municipality
    rows = [(FIELD_LABELS[k], field_text(k, data["fields"].get(k))) for k in FIELDS]
    return render(request, "export/startformulier.html", {
        "title": f"Startformulier {number}", "data": data, "rows": rows, "municipality": muni.name,
        "consent_question": CONSENT_QUESTION, "consent_text": CONSENT_NAMES.get(data["consent"], data["consent"]),
        "printed": local_time(datetime.now(timezone.utc)), "back": case_page_url(p.role, number)})


@router.get("/zaak/{number}/startformulier.pdf", include_in_schema=False)
def pdf_file(request: Request, number: str, p: Principal = Depends(VIEWERS)) -> Response:
    store = _store(request)
    try:
        data = _export(store, p, number, "pdf")
    except CaseNotFound:
        return _not_found(request)
    body = render_pdf(data, request.app.state.triage.municipality.name)
    return Response(body, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="startformulier-{number}.pdf"', "Cache-Control": "no-store"})


@router.get("/api/cases/{number}/startformulier", response_model=StartformulierExport,
            responses={404: {"model": ConsoleError}}, tags=["startformulier"],
            summary="Het startformulier van een zaak (export als JSON)")
def json_export(request: Request, number: str, download: bool = False,
                p: Principal = Depends(VIEWERS)) -> Response:
    store = _store(request)
    try:
        data = _export(store, p, number, "json")
    except CaseNotFound:
        return _not_found(request)
    headers = {"Cache-Control": "no-store"}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="startformulier-{number}.json"'
    return JSONResponse(StartformulierExport(**data).model_dump(mode="json"), headers=headers)


@router.put("/api/cases/{number}/startformulier", response_model=StartformulierExport,
            responses={404: {"model": ConsoleError}, 409: {"model": ConsoleError}, 422: {"model": StartformulierErrors}},
            tags=["startformulier"], summary="Het startformulier aanvullen of verbeteren")
async def json_update(request: Request, number: str, body: StartformulierChange,
                      p: Principal = Depends(VIEWERS)) -> Response:
    from ..store import CaseConflict

    store = _store(request)
    muni = request.app.state.triage.municipality

    def work():
        visible_case(store, p.role, number)
        errors = save_startformulier(store, muni, number, p.username, raw_fields=body.fields, consent=body.consent,
                                     hulpvraag=body.hulpvraag)
        if errors:
            return errors, None
        return {}, export_data(store, visible_case(store, p.role, number))

    try:
        errors, data = await run_in_threadpool(work)
    except CaseNotFound:
        return _not_found(request)
    except CaseConflict as exc:
        return JSONResponse({"detail": str(exc)}, status_code=409)
    except ValueError as exc:
        return JSONResponse({"detail": str(exc), "errors": {}}, status_code=422)
    if errors:
        return JSONResponse({"detail": "Het startformulier is niet opgeslagen: verbeter de velden.", "errors": errors},
                            status_code=422)
    return JSONResponse(StartformulierExport(**data).model_dump(mode="json"))
