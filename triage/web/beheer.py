"""The beheer pages of the console (see console.py for the shared parts)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from .auth import Principal, require
from .console import render

router = APIRouter(include_in_schema=False)
ROLE = require("beheer")


@router.get("/beheer", response_class=HTMLResponse)
def home(request: Request, p: Principal = Depends(ROLE)) -> HTMLResponse:
    return render(request, "beheer/home.html", {"title": "beheer"})
