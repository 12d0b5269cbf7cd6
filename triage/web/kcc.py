"""The kcc pages of the console (see console.py for the shared parts)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from .auth import Principal, require
from .console import render

router = APIRouter(include_in_schema=False)
ROLE = require("kcc")


@router.get("/kcc", response_class=HTMLResponse)
def home(request: Request, p: Principal = Depends(ROLE)) -> HTMLResponse:
    return render(request, "kcc/home.html", {"title": "kcc"})
