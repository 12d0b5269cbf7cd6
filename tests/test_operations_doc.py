"""docs/operations.md lists every setting exactly as the settings class
defines it (generated, so the documentation cannot drift)."""

import re
from pathlib import Path

from triage.config import Settings, settings_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "operations.md"


def test_settings_table_in_operations_doc_matches_the_code():
    text = DOC.read_text(encoding="utf-8")
    m = re.search(r"<!-- settings:start -->\n(.*?)\n<!-- settings:end -->", text, re.S)
    assert m, "settings markers missing in docs/operations.md"
    assert m.group(1).strip() == settings_markdown().strip(), "regenerate with: triage settings"


def test_every_setting_has_a_description_and_the_issue_names_exist():
    for name, field in Settings.model_fields.items():
        assert field.description, name
    for required in ("db_url", "smtp_host", "smtp_port", "http_port", "outbound_smtp", "imap_host", "imap_user",
                     "imap_password"):
        assert required in Settings.model_fields


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("TRIAGE_SMTP_PORT", "2525")
    monkeypatch.setenv("TRIAGE_DB_URL", "postgresql+psycopg://u:p@db/x")
    s = Settings()
    assert s.smtp_port == 2525 and s.database_url() == "postgresql+psycopg://u:p@db/x"
