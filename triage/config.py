"""Configuration: process settings (environment, prefix TRIAGE_) and the
municipality file (numbers, wijken, destinations, thresholds).

Nothing is read at import time; call :func:`get_settings` and
:func:`load_municipality` where needed.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
DEFAULT_MUNICIPALITY_FILE = PACKAGE_DIR / "data" / "municipality.toml"


class Settings(BaseSettings):
    """Process settings. Every field can be set as TRIAGE_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="TRIAGE_", extra="ignore")

    model_dir: Path = Field(REPO_DIR / "models", description="Folder with the trained artifacts.")
    training_data_dir: Path = Field(REPO_DIR / "training_data", description="Folder with labelled messages and the kennisbank.")
    municipality_file: Path = Field(DEFAULT_MUNICIPALITY_FILE, description="TOML file with the municipality's numbers, wijken and thresholds.")
    http_host: str = Field("127.0.0.1", description="Address of the console and API.")
    http_port: int = Field(8000, description="Port of the console and API.")
    max_text_chars: int = Field(100_000, description="Longer texts are cut to this many characters before triage.")


def get_settings(**overrides) -> Settings:
    return Settings(**overrides)


@dataclass(frozen=True)
class Municipality:
    name: str
    kcc_phone: str
    wijkteam_email: str
    postcode_range: tuple[int, int]
    woonplaatsen: tuple[str, ...]
    organisations: dict[str, str]
    national: dict[str, str]
    destinations: dict[str, str]
    postcode_wijk: dict[str, str]
    routing: dict[str, float] = field(default_factory=dict)

    def placeholders(self) -> dict[str, str]:
        """Values for the {placeholders} in kennisbank answers."""
        return {
            "gemeente": self.name,
            "kcc_telefoon": self.kcc_phone,
            "wijkteam_email": self.wijkteam_email,
            "amw_organisatie": self.organisations.get("amw", ""),
            "wijkverpleging": self.organisations.get("wijkverpleging", ""),
            "clientondersteuning": self.organisations.get("clientondersteuning", ""),
            "jeugd_gezinscoach": self.organisations.get("jeugd_gezinscoach", ""),
            **self.national,
        }

    def wijk_for_postcode(self, postcode: str | None) -> str | None:
        if not postcode:
            return None
        return self.postcode_wijk.get(postcode[:4])


@lru_cache(maxsize=8)
def load_municipality(path: Path | str = DEFAULT_MUNICIPALITY_FILE) -> Municipality:
    with open(path, "rb") as fh:
        raw = tomllib.load(fh)
    lo, hi = raw.get("postcode_range", [1000, 9999])
    return Municipality(
        name=raw["name"],
        kcc_phone=raw["kcc_phone"],
        wijkteam_email=raw["wijkteam_email"],
        postcode_range=(int(lo), int(hi)),
        woonplaatsen=tuple(raw.get("woonplaatsen", [])),
        organisations=dict(raw.get("organisations", {})),
        national=dict(raw.get("national", {})),
        destinations=dict(raw.get("destinations", {})),
        postcode_wijk={str(k): str(v) for k, v in raw.get("postcode_wijk", {}).items()},
        routing={k: float(v) for k, v in raw.get("routing", {}).items()},
    )
