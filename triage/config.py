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

from pydantic import Field, field_validator
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

    # --- models
    model_versions_dir: str = Field("", description="Folder of retrained model versions (`triage model`, beheer in the console). "
                                    "Empty: data_dir/models (triage-data/models). Without an active version the model_dir models are used.")
    model_min_crisis_recall: float = Field(0.95, ge=0.95, le=1.0, description="A retrained model is only activated when its "
                                           "crisis recall on the held-out split is at least this and not lower than the active model's.")

    # --- console
    console_session_hours: float = Field(10.0, gt=0, description="A console login ends after this many hours.")
    console_idle_minutes: int = Field(60, ge=1, description="A console login ends after this many minutes without a request.")
    console_secure_cookie: bool = Field(False, description="Send the login cookie only over https (set it when the console is behind https; on https it is always set).")

    # --- store
    data_dir: Path = Field(Path("triage-data"), description="Folder for the default SQLite database (relative to the working directory).")
    db_url: str = Field("", description="Database URL (SQLAlchemy form). Empty: the SQLite file <data_dir>/triage.db (WAL). "
                        "PostgreSQL: postgresql+psycopg://user:password@host:5432/dbname.")

    # --- SMTP in
    smtp_enabled: bool = Field(True, description="Receive mail over SMTP.")
    smtp_host: str = Field("127.0.0.1", description="Address the SMTP receiver listens on.")
    smtp_port: int = Field(8025, description="Port of the SMTP receiver.")
    workers: int = Field(2, ge=0, le=16, description="Worker processes that parse and triage incoming mail (0: in the receiving process).")
    smtp_max_bytes: int = Field(25 * 1024 * 1024, description="Largest accepted mail in bytes; larger mail gets SMTP 552.")

    # --- outbound mail
    outbound_smtp: str = Field("", description="SMTP relay for replies as host:port. Empty: replies wait in the outbox and are not sent.")
    outbound_from: str = Field("", description="Sender address of replies. Empty: the wijkteam address from the municipality file.")
    outbound_from_name: str = Field("Sociaal Wijkteam", description="Display name of the sender of replies.")
    outbound_user: str = Field("", description="User name for the relay (empty: no login).")
    outbound_password: str = Field("", description="Password for the relay.")
    outbound_starttls: bool = Field(False, description="Use STARTTLS with the relay.")
    reply_rate_limit_per_hour: int = Field(3, description="Most non-crisis replies per sender address per hour; crisis replies always go.")

    # --- IMAP mailbox
    imap_host: str = Field("", description="IMAP server of the wijkteam mailbox. Empty: no IMAP polling.")
    imap_port: int = Field(993, description="IMAP port.")
    imap_ssl: bool = Field(True, description="Connect with TLS (IMAPS).")
    imap_user: str = Field("", description="IMAP user name.")
    imap_password: str = Field("", description="IMAP password.")
    imap_folder: str = Field("INBOX", description="Folder to read new mail from.")
    imap_processed_folder: str = Field("", description="Move processed mail to this folder. Empty: flag it as seen and leave it.")
    imap_poll_seconds: float = Field(60.0, description="Polling interval when the server has no IDLE.")

    # --- retention
    retention_days: int = Field(730, description="Closed cases older than this many days are anonymised or deleted.")
    retention_mode: str = Field("anonymise", pattern="^(anonymise|delete)$", description="anonymise (keep counts, drop personal data) or delete.")
    retention_hour: int = Field(3, ge=0, le=23, description="Hour of the day (local time) of the daily retention run inside triage serve.")

    # --- chat (web chat and Telegram)
    chat_enabled: bool = Field(True, description="Offer the web chat: WebSocket /chat/ws, widget /chat/widget.js, demo page /chat.")
    chat_max_chars: int = Field(4000, ge=100, description="Longest chat message that is read; longer ones get a clear refusal.")
    chat_rate_limit: int = Field(20, ge=1, description="Most messages per chat in chat_rate_window seconds; more get one reply to wait (a crisis always gets the numbers).")
    chat_rate_window: float = Field(60.0, gt=0, description="Window of the chat rate limit in seconds.")
    telegram_token: str = Field("", description="Telegram bot token (from BotFather). Empty: no Telegram bot.")
    telegram_api_url: str = Field("", description="Bot API endpoint as python-telegram-bot's base_url, e.g. a local Bot API server "
                                  "(http://host:8081/bot). Empty: Telegram's own.")
    telegram_poll_seconds: float = Field(10.0, ge=1, description="Long-polling timeout of getUpdates in seconds.")
    telegram_webhook_secret: str = Field("", description="Secret token Telegram sends with every webhook update "
                                         "(X-Telegram-Bot-Api-Secret-Token; letters, digits, _ and -, up to 256). "
                                         "Required with telegram_webhook_url.")
    telegram_webhook_url: str = Field("", description="Public https URL at which Telegram reaches POST /telegram/webhook "
                                      "of triage serve (e.g. https://chat.example.nl/telegram/webhook). Empty: long "
                                      "polling. Set: triage serve refuses to start without telegram_webhook_secret.")
    chat_retention_days: int = Field(30, ge=1, description="Chat conversations that never became a case and were not "
                                     "updated for this many days lose their transcript and messages (daily "
                                     "retention run).")

    @field_validator("telegram_webhook_url")
    @classmethod
    def _webhook_needs_secret(cls, url: str, info) -> str:
        # a field validator: its error shows only the URL, never other settings (passwords)
        cls.check_telegram_webhook(url, info.data.get("telegram_webhook_secret"))
        return url

    @staticmethod
    def check_telegram_webhook(url: str | None, secret: str | None) -> None:
        """Refuse a webhook without an https URL or a usable secret token,
        with a message that names the setting (triage serve does not start)."""
        if not url:
            return
        if not url.startswith("https://"):
            raise ValueError("TRIAGE_TELEGRAM_WEBHOOK_URL must be a public https:// address (Telegram posts only to https)")
        if not secret:
            raise ValueError("TRIAGE_TELEGRAM_WEBHOOK_URL is set, so TRIAGE_TELEGRAM_WEBHOOK_SECRET must be set too: a "
                             "random secret Telegram sends with every update, so that only Telegram can post to "
                             "/telegram/webhook (for example: openssl rand -hex 32)")
        if not (len(secret) <= 256 and all(c.isascii() and (c.isalnum() or c in "_-") for c in secret)):
            raise ValueError("TRIAGE_TELEGRAM_WEBHOOK_SECRET may hold only letters, digits, _ and - (at most 256)")

    def database_url(self) -> str:
        if self.db_url:
            return self.db_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / 'triage.db').resolve()}"

    def model_versions_path(self) -> Path:
        return Path(self.model_versions_dir) if self.model_versions_dir else self.data_dir / "models"

    def reply_sender(self, municipality: "Municipality") -> str:
        return self.outbound_from or municipality.wijkteam_email


def settings_markdown() -> str:
    """Every setting with its environment variable, default and meaning
    (docs/operations.md embeds this table)."""
    rows = ["| environment variable | default | meaning |", "| --- | --- | --- |"]
    for name, f in Settings.model_fields.items():
        default = f.default
        if isinstance(default, Path):
            default = str(default.relative_to(REPO_DIR)) if default.is_absolute() and default.is_relative_to(REPO_DIR) else str(default)
        shown = "(empty)" if default == "" else f"`{default}`"
        if name in ("imap_password", "outbound_password", "telegram_token"):
            shown = "(empty)"
        rows.append(f"| `TRIAGE_{name.upper()}` | {shown} | {f.description or ''} |")
    return "\n".join(rows)


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
    # wijkteam member (name as the console shows it) -> their focuswijken
    wijkteam: dict[str, tuple[str, ...]] = field(default_factory=dict)

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

    def suggest_member(self, wijk: str | None, open_counts: dict[str, int]) -> str | None:
        """The wijkteam member to suggest for a case in ``wijk``: of the
        members with that focuswijk, the one with the fewest open cases
        (``open_counts``: member -> accepted, not yet closed cases); a tie
        goes to the first in the file. None without a wijk or a member for it."""
        if not wijk:
            return None
        members = [m for m, wijken in self.wijkteam.items() if wijk in wijken]
        return min(members, key=lambda m: open_counts.get(m, 0)) if members else None


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
        wijkteam={str(k): tuple(str(w) for w in v) for k, v in raw.get("wijkteam", {}).items()},
    )
