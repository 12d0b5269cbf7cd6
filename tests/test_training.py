"""Training is deterministic, never sees the held-out split, and the model
card holds what `triage evaluate` prints."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO
from triage.dataset import is_heldout, load_records, split


def test_heldout_split_is_fixed_and_disjoint(corpus):
    train, held = split(corpus)
    assert len(held) >= 300
    assert not {r.id for r in train} & {r.id for r in held}
    assert all(is_heldout(r.id) for r in held)
    # a pure function of the id
    assert split(list(reversed(corpus)))[1][0].id in {r.id for r in held}


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """A small copy of the corpus (every fifth training record) and the kennisbank."""
    root = tmp_path_factory.mktemp("tiny")
    (root / "messages").mkdir()
    src = REPO / "training_data"
    lines = []
    for f in sorted((src / "messages").glob("*.jsonl")):
        lines += [l for l in f.read_text(encoding="utf-8").splitlines() if l.strip()]
    keep = [l for i, l in enumerate(lines) if i % 5 == 0]
    (root / "messages" / "tiny.jsonl").write_text("\n".join(keep) + "\n", encoding="utf-8")
    shutil.copytree(src / "kennisbank", root / "kennisbank")
    return root


def _train(data, out):
    r = subprocess.run([sys.executable, "-m", "triage", "--models", str(out), "train", "--data", str(data)],
                       capture_output=True, cwd=REPO, timeout=600)
    assert r.returncode == 0, r.stderr.decode()


def test_training_is_deterministic_and_excludes_heldout(tiny_data, tmp_path):
    from triage.pipeline import Message, Triage

    _train(tiny_data, tmp_path / "m1")
    _train(tiny_data, tmp_path / "m2")
    manifest = json.loads((tmp_path / "m1" / "manifest.json").read_text())
    records = load_records(tiny_data / "messages")
    assert manifest["n_train"] == len(split(records)[0])
    assert manifest["n_heldout"] == len(split(records)[1])
    msgs = [Message(r.text, r.channel, r.subject, r.id) for r in records[:60]]
    a = Triage(tmp_path / "m1").classify_many(msgs)
    b = Triage(tmp_path / "m2").classify_many(msgs)
    assert [x.contract() for x in a] == [y.contract() for y in b]
    assert np.allclose([x.confidence for x in a], [y.confidence for y in b])


def test_model_card_holds_what_evaluate_prints(tiny_data, tmp_path):
    out = tmp_path / "m"
    _train(tiny_data, out)
    env_cmd = [sys.executable, "-m", "triage", "--models", str(out), "evaluate"]
    r = subprocess.run(env_cmd, capture_output=True, cwd=REPO, timeout=600,
                       env={**__import__("os").environ, "TRIAGE_TRAINING_DATA_DIR": str(tiny_data)})
    assert r.returncode == 0, r.stderr.decode()
    printed = r.stdout.decode().strip()
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert printed in card
    for heading in ("Doel", "Data", "Werking", "Menselijk toezicht", "Risico", "Gemeten prestaties"):
        assert heading in card
    assert "macro-F1" in printed and "crisis recall" in printed and "confusion matrix" in printed


def test_model_files_hold_no_pickles(tmp_path):
    """Artifacts are plain arrays: a file that needs pickle is refused."""
    import numpy as np

    from triage.model import ModelLoadError, TextModels

    np.savez(tmp_path / "text_models.npz", W=np.array([object()], dtype=object))
    (tmp_path / "text_models.json").write_text("{}")
    with pytest.raises(ModelLoadError):
        TextModels.load(tmp_path)
