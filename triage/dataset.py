"""The labelled corpus: loading, channel names, and the fixed held-out split.

The split is a pure function of the record id (SHA-1 of the id, one in five
held out), so it never changes when records are added and training can never
see a held-out record.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

__all__ = [
    "CATEGORIES", "DOMAINS", "CHANNELS", "FIELD_NAMES", "Record",
    "canonical_channel", "is_heldout", "load_records", "split",
]

CATEGORIES = ("info_advies", "enkelvoudig", "meervoudig", "crisis")
DOMAINS = ("jeugd", "ggz", "schulden", "werk_inkomen", "wmo", "wonen", "veiligheid", "verslaving")
CHANNELS = ("email", "chat", "phone", "partner")
FIELD_NAMES = (
    "naam", "geboortedatum", "bsn", "telefoon", "email", "straat_huisnummer",
    "postcode", "woonplaats", "aanmelder", "aanmelder_organisatie", "kinderen",
)

_CHANNEL_ALIASES = {
    "email": "email", "e-mail": "email", "mail": "email", "smtp": "email", "imap": "email", "mailbox": "email",
    "chat": "chat", "telegram": "chat", "webchat": "chat", "web_chat": "chat", "whatsapp": "chat",
    "phone": "phone", "telefoon": "phone", "phone_note": "phone", "telefoonnotitie": "phone", "kcc": "phone",
    "call": "phone", "tel": "phone", "telephone": "phone",
    "partner": "partner", "verwijzing": "partner", "referral": "partner", "ketenpartner": "partner",
}

HELDOUT_MODULO = 5


def canonical_channel(channel: str | None) -> str:
    """Map the many names for a channel onto email/chat/phone/partner.
    Unknown names count as email, the most common channel."""
    key = (channel or "").strip().lower().replace(" ", "_")
    return _CHANNEL_ALIASES.get(key, "email")


def is_heldout(record_id: str) -> bool:
    digest = hashlib.sha1(str(record_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % HELDOUT_MODULO == 0


@dataclass(frozen=True)
class Record:
    id: str
    channel: str
    text: str
    subject: str
    category: str
    domains: tuple[str, ...]
    fields: dict
    consent: str
    lang: str = "nl"

    @classmethod
    def from_json(cls, raw: dict) -> "Record":
        return cls(
            id=str(raw["id"]),
            channel=canonical_channel(raw.get("channel")),
            text=raw["text"],
            subject=raw.get("subject") or "",
            category=raw["category"],
            domains=tuple(d for d in DOMAINS if d in set(raw.get("domains") or [])),
            fields=dict(raw.get("fields") or {}),
            consent=raw.get("consent", "onbekend"),
            lang=raw.get("lang", "nl"),
        )


def load_records(paths: Iterable[Path] | Path) -> list[Record]:
    """Load records from a JSONL file or every *.jsonl in a folder, sorted by
    file name so that training is deterministic."""
    if isinstance(paths, (str, Path)):
        p = Path(paths)
        files = sorted(p.glob("*.jsonl")) if p.is_dir() else [p]
    else:
        files = sorted(Path(p) for p in paths)
    records: list[Record] = []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        records.append(Record.from_json(json.loads(line)))
                    except (KeyError, ValueError) as exc:
                        raise ValueError(f"{f}:{lineno}: bad record: {exc}") from exc
    return records


def split(records: list[Record]) -> tuple[list[Record], list[Record]]:
    """(train, heldout)."""
    train = [r for r in records if not is_heldout(r.id)]
    held = [r for r in records if is_heldout(r.id)]
    return train, held
