"""Check labelled message files against the labeling guide's schema.

Usage: python training_data/check_messages.py FILE.jsonl [FILE.jsonl ...]

Prints every problem with file and line number, then counts per channel,
category, domain and language. Exit status 1 when any problem was found.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter

CHANNELS = {"email", "chat", "phone", "partner"}
CATEGORIES = {"info_advies", "enkelvoudig", "meervoudig", "crisis"}
DOMAINS = {"jeugd", "ggz", "schulden", "werk_inkomen", "wmo", "wonen", "veiligheid", "verslaving"}
CONSENT = {"ja", "nee", "onbekend"}
FIELDS = {
    "naam", "geboortedatum", "bsn", "telefoon", "email", "straat_huisnummer",
    "postcode", "woonplaats", "aanmelder", "aanmelder_organisatie", "kinderen",
}
AANMELDER = {"inwoner", "naaste", "partner"}
OPTIONAL_KEYS = {"subject", "lang", "tags"}


def bsn_ok(value: str) -> bool:
    if not re.fullmatch(r"\d{9}", value):
        return False
    total = sum(int(value[i]) * (9 - i) for i in range(8)) - int(value[8])
    return total % 11 == 0


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def check_record(rec: dict) -> list[str]:
    problems: list[str] = []
    for key in ("id", "channel", "text", "category", "domains", "fields", "consent"):
        if key not in rec:
            problems.append(f"missing key {key!r}")
    extra = set(rec) - {"id", "channel", "text", "category", "domains", "fields", "consent"} - OPTIONAL_KEYS
    if extra:
        problems.append(f"unknown keys {sorted(extra)}")
    if problems:
        return problems
    text = rec["text"]
    if not isinstance(text, str) or not text.strip():
        problems.append("empty text")
        return problems
    if rec["channel"] not in CHANNELS:
        problems.append(f"channel {rec['channel']!r} not in {sorted(CHANNELS)}")
    if "subject" in rec and not isinstance(rec["subject"], str):
        problems.append("subject must be a string")
    if rec["channel"] in {"chat", "phone"} and rec.get("subject"):
        problems.append("subject only for email/partner")
    if rec["category"] not in CATEGORIES:
        problems.append(f"category {rec['category']!r}")
    if not isinstance(rec["domains"], list) or set(rec["domains"]) - DOMAINS:
        problems.append(f"domains {rec['domains']!r}")
    elif len(set(rec["domains"])) != len(rec["domains"]):
        problems.append("duplicate domain")
    if rec["consent"] not in CONSENT:
        problems.append(f"consent {rec['consent']!r}")
    if rec["category"] == "meervoudig" and len(rec["domains"]) < 2:
        problems.append("meervoudig needs >= 2 domains")
    if rec["category"] == "enkelvoudig" and len(rec["domains"]) != 1:
        problems.append("enkelvoudig needs exactly 1 domain")
    if rec.get("lang", "nl") not in {"nl", "en"}:
        problems.append("lang must be nl or en")
    fields = rec["fields"]
    if not isinstance(fields, dict):
        return problems + ["fields must be an object"]
    unknown = set(fields) - FIELDS
    if unknown:
        problems.append(f"unknown fields {sorted(unknown)}")
    if fields.get("aanmelder") not in AANMELDER:
        problems.append("fields.aanmelder must be inwoner/naaste/partner")
    if "aanmelder_organisatie" in fields and fields.get("aanmelder") != "partner":
        problems.append("aanmelder_organisatie only for partner")
    low = text.lower()
    text_digits = _digits(text)
    for key, value in fields.items():
        if key == "kinderen":
            if value is not True:
                problems.append("kinderen must be true or absent")
            continue
        if not isinstance(value, str) or not value:
            problems.append(f"{key} must be a non-empty string")
            continue
        if key == "geboortedatum" and not re.fullmatch(r"(19|20)\d\d-\d\d-\d\d", value):
            problems.append(f"geboortedatum {value!r} not YYYY-MM-DD")
        elif key == "bsn":
            if not bsn_ok(value):
                problems.append(f"bsn {value!r} fails the 11-test")
            elif value not in text_digits:
                problems.append(f"bsn {value!r} not in text")
        elif key == "telefoon":
            if not re.fullmatch(r"0\d{9}", value):
                problems.append(f"telefoon {value!r} not 0 + 9 digits")
            elif value[1:] not in text_digits:
                problems.append(f"telefoon {value!r} not in text")
        elif key == "email":
            if value != value.lower() or "@" not in value:
                problems.append(f"email {value!r} not lower case address")
            elif value not in low:
                problems.append(f"email {value!r} not in text")
        elif key == "postcode":
            if not re.fullmatch(r"\d{4} [A-Z]{2}", value):
                problems.append(f"postcode {value!r} not '1781 AB'")
            elif not re.search(value[:4] + r"\s*" + value[5:], text, re.I):
                problems.append(f"postcode {value!r} not in text")
        elif key in {"naam", "straat_huisnummer", "woonplaats", "aanmelder_organisatie"}:
            if value.lower() not in low:
                problems.append(f"{key} {value!r} not written in text")
    return problems


def main(paths: list[str]) -> int:
    seen: dict[str, str] = {}
    texts: dict[str, str] = {}
    n_problems = 0
    counts = {k: Counter() for k in ("channel", "category", "domain", "lang", "consent")}
    total = 0
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                where = f"{path}:{lineno}"
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    print(f"{where}: invalid JSON: {exc}")
                    n_problems += 1
                    continue
                probs = check_record(rec)
                rid = rec.get("id")
                if rid in seen:
                    probs.append(f"duplicate id (also {seen[rid]})")
                seen[rid] = where
                key = re.sub(r"\W+", " ", str(rec.get("text", "")).lower()).strip()
                if key in texts:
                    probs.append(f"duplicate text (also {texts[key]})")
                texts[key] = where
                for p in probs:
                    print(f"{where} [{rid}]: {p}")
                n_problems += len(probs)
                total += 1
                counts["channel"][rec.get("channel")] += 1
                counts["category"][rec.get("category")] += 1
                counts["lang"][rec.get("lang", "nl")] += 1
                counts["consent"][rec.get("consent")] += 1
                for d in rec.get("domains") or []:
                    counts["domain"][d] += 1
    print(f"\n{total} records, {n_problems} problems")
    for name, counter in counts.items():
        print(f"{name}: " + ", ".join(f"{k}={v}" for k, v in counter.most_common()))
    return 1 if n_problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
