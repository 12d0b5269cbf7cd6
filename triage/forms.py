"""Checking a startformulier that a person filled in or corrected (console
form, API). Pure logic: a dict of strings in, clean fields and Dutch error
messages per field out. Field names and forms as in labeling-guide.md.

    clean, errors = validate_startformulier({"telefoon": "+31 6 1234 5678", "bsn": "123"})
    clean["telefoon"] == "0612345678"; errors["bsn"] == "Een BSN heeft 9 cijfers ..."
"""

from __future__ import annotations

import re
from datetime import date

from .extract import bsn_valid, normalize_phone, parse_date

__all__ = ["FIELDS", "FIELD_LABELS", "AANMELDERS", "validate_startformulier"]

FIELD_LABELS = {
    "naam": "Naam",
    "geboortedatum": "Geboortedatum",
    "bsn": "BSN",
    "telefoon": "Telefoonnummer",
    "email": "E-mailadres",
    "straat_huisnummer": "Straat en huisnummer",
    "postcode": "Postcode",
    "woonplaats": "Woonplaats",
    "aanmelder": "Wie meldt aan",
    "aanmelder_organisatie": "Organisatie van de aanmelder",
    "kinderen": "Minderjarige kinderen in het gezin",
}
FIELDS = tuple(FIELD_LABELS)
AANMELDERS = {"inwoner": "De inwoner zelf", "naaste": "Een naaste (familie, buur, vriend)",
              "partner": "Een organisatie (partner)"}

_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[a-zA-Z]{2,}")
_POSTCODE = re.compile(r"([1-9]\d{3})\s?([A-Za-z]{2})")
MAX_TEXT = 200


def validate_startformulier(raw: dict) -> tuple[dict, dict]:
    """(clean fields, errors). An empty value clears the field (it is
    returned as ""), so a person can remove a wrong value."""
    clean: dict = {}
    errors: dict = {}
    for name in FIELDS:
        if name not in raw:
            continue
        value = raw[name]
        if name == "kinderen":
            clean[name] = True if value in (True, "true", "ja", "on", "1") else ""
            continue
        value = "" if value is None else str(value).strip()
        if not value:
            clean[name] = ""
            continue
        if len(value) > MAX_TEXT:
            errors[name] = f"Te lang: hoogstens {MAX_TEXT} tekens."
            continue
        if name == "telefoon":
            phone = normalize_phone(value)
            if phone is None:
                errors[name] = "Dit is geen geldig Nederlands telefoonnummer (bijvoorbeeld 0612345678)."
            else:
                clean[name] = phone
        elif name == "email":
            if not _EMAIL.fullmatch(value):
                errors[name] = "Dit is geen geldig e-mailadres (bijvoorbeeld naam@voorbeeld.nl)."
            else:
                clean[name] = value.lower()
        elif name == "postcode":
            m = _POSTCODE.fullmatch(value)
            if not m:
                errors[name] = "Een postcode is vier cijfers en twee letters, bijvoorbeeld 1781 AB."
            else:
                clean[name] = f"{m.group(1)} {m.group(2).upper()}"
        elif name == "bsn":
            digits = re.sub(r"[\s.\-]", "", value)
            if not (digits.isdigit() and len(digits) == 9):
                errors[name] = "Een BSN heeft 9 cijfers."
            elif not bsn_valid(digits):
                errors[name] = "Dit BSN klopt niet (de elfproef faalt). Controleer de cijfers."
            else:
                clean[name] = digits
        elif name == "geboortedatum":
            iso = value if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else parse_date(value)
            try:
                born = date.fromisoformat(iso) if iso else None
            except ValueError:
                born = None
            if born is None or born > date.today() or born.year < 1900:
                errors[name] = "Schrijf de datum als dd-mm-jjjj, bijvoorbeeld 03-05-1961."
            else:
                clean[name] = iso
        elif name == "aanmelder":
            if value not in AANMELDERS:
                errors[name] = "Kies inwoner, naaste of partner."
            else:
                clean[name] = value
        else:
            clean[name] = value
    return clean, errors
