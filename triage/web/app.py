"""`triage serve`: the HTTP API on embedded defaults (127.0.0.1:8000).

The API is described by FastAPI's OpenAPI document at /openapi.json.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from ..config import get_settings
from ..pipeline import Message, Triage

log = logging.getLogger("triage.web")

MAX_TEXT = 1_000_000


class ClassifyRequest(BaseModel):
    text: str = Field(..., description="The message text", max_length=MAX_TEXT)
    channel: str = Field("email", description="email, chat, phone or partner")
    subject: str | None = Field(None, description="Mail subject")
    id: str | None = None


class ClassifyResponse(BaseModel):
    id: str | None
    category: str
    domains: list[str]
    confidence: float
    fields: dict
    consent: str
    route: str | None
    answer_id: str | None
    reasons: list[str]
    priority: str | None = None
    destination: str | None = None
    wijk: str | None = None
    answer_text: str | None = None
    evidence: dict = {}


def create_app(model_dir: Path | str | None = None, triage: Triage | None = None, service=None) -> FastAPI:
    """The HTTP app. ``triage``/``service``: an already started product
    (`triage serve`); without them the models are loaded at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.triage = triage or Triage(model_dir)
        app.state.service = service
        log.info("models loaded in %.2f s", app.state.triage.load_seconds)
        yield

    app = FastAPI(title="KCC front-door triage", version="0.1.0", lifespan=lifespan,
                  description="Triage of questions to the Sociaal Wijkteam: category, domains, startformulier, answer, route.")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return ("<!doctype html><html lang='nl'><head><meta charset='utf-8'><title>KCC triage</title></head>"
                "<body><h1>KCC triage-assistent</h1><p>De API staat onder <a href='/docs'>/docs</a> "
                "(<a href='/openapi.json'>OpenAPI</a>).</p></body></html>")

    @app.get("/api/health")
    def health(request: Request) -> dict:
        t: Triage = request.app.state.triage
        out = {"status": "ok", "model_load_seconds": round(t.load_seconds, 3)}
        svc = request.app.state.service
        if svc is not None and svc.store is not None:
            db_ok = svc.store.ping()
            out["database"] = "ok" if db_ok else "unavailable"
            out["smtp"] = f"{svc.settings.smtp_host}:{svc.settings.smtp_port}" if svc.smtp else "off"
            out["imap"] = "on" if svc.imap else "off"
            out["outbound"] = "on" if svc.outbound else "off (outbox only)"
            if not db_ok:
                out["status"] = "degraded"
        return out

    @app.post("/api/classify", response_model=ClassifyResponse)
    def classify(req: ClassifyRequest, request: Request) -> ClassifyResponse:
        if not req.text.strip() and not (req.subject or "").strip():
            raise HTTPException(status_code=422, detail="Lege tekst: er is niets om te beoordelen.")
        t: Triage = request.app.state.triage
        res = t.classify_many([Message(req.text, req.channel, req.subject, req.id)])[0]
        answer_text = None
        if res.answer_id and t.kennisbank is not None:
            from ..kennisbank import detect_language

            answer_text = t.kennisbank.render(res.answer_id, detect_language(req.text))
        data = res.contract()
        return ClassifyResponse(**data, priority=res.priority, destination=res.destination, wijk=res.wijk,
                                answer_text=answer_text, evidence=res.evidence)

    return app


def run(host: str | None = None, port: int | None = None, model_dir: str | None = None, settings=None) -> int:
    """`triage serve`: the store, SMTP in, IMAP and outbound mail (when
    configured), and the HTTP API, until SIGINT/SIGTERM."""
    import uvicorn

    from ..service import Service

    settings = settings or get_settings()
    service = Service(settings, model_dir=model_dir).start()
    try:
        app = create_app(triage=service.triage, service=service)
        uvicorn.run(app, host=host or settings.http_host, port=port or settings.http_port, log_level="info",
                    access_log=False)  # access logs could carry identifiers in query strings
    finally:
        service.stop()
    return 0
