import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def triage():
    """The shipped models in models/ (rebuilt by `triage train`)."""
    from triage.pipeline import Triage

    return Triage(REPO / "models")


@pytest.fixture(scope="session")
def corpus():
    from triage.dataset import load_records

    return load_records(REPO / "training_data" / "messages")


@pytest.fixture
def store(tmp_path):
    """A migrated store on a fresh SQLite file (test_store.py and
    test_chat_service.py override it to run on PostgreSQL as well)."""
    from triage.store import Store

    s = Store(f"sqlite:///{tmp_path / 'triage.db'}")
    s.migrate()
    yield s
    s.engine.dispose()


def write_jsonl(path: Path, rows) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path
