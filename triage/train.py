"""`triage train`: rebuild models/ from training_data/, deterministically.

Only the training split is used; the held-out split (see dataset.is_heldout)
is never seen. Writes the text models, the kennisbank index and a
training manifest (data size, date, data hash).
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import date
from pathlib import Path

from . import crisis
from .dataset import load_records, split
from .model import TextModels, model_input
from .normalize import normalize

__all__ = ["train"]


def corpus_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.glob("*.jsonl")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def kennisbank_questions(kennisbank_dir: Path) -> list[str]:
    """Information questions from the kennisbank's training examples (never
    from questions.jsonl, the kennisbank's evaluation set)."""
    out: list[str] = []
    answers = kennisbank_dir / "answers.jsonl"
    if answers.exists():
        for line in answers.read_text(encoding="utf-8").splitlines():
            if line.strip():
                a = json.loads(line)
                if a["id"] != "kb-crisis":
                    out.extend(a.get("examples", []))
    examples = kennisbank_dir / "examples.jsonl"
    if examples.exists():
        for line in examples.read_text(encoding="utf-8").splitlines():
            if line.strip():
                e = json.loads(line)
                if e.get("answer_id") and e["answer_id"] != "kb-crisis":
                    out.append(e["text"])
    return out


def train(training_data_dir: Path, model_dir: Path, log=print, extra_records=()) -> dict:
    """``extra_records``: more labelled training records (the agents'
    corrections, triage/retrain.py). They are added to the training split
    as they are: never held out, whatever their id."""
    t0 = time.perf_counter()
    messages_dir = training_data_dir / "messages"
    records = load_records(messages_dir)
    train_set, heldout = split(records)
    extra_records = list(extra_records)
    if extra_records:
        log(f"plus {len(extra_records)} corrected cases as training records")
        train_set = train_set + extra_records
    if len(train_set) < 20:
        raise ValueError(f"too few training records in {messages_dir}: {len(train_set)}")
    log(f"training on {len(train_set)} messages ({len(heldout)} held out, never used)")
    # Questions for information from the kennisbank (answers' examples and
    # examples.jsonl with an answer): info_advies by the labeling guide. They
    # teach the category model what plain questions look like; their domains
    # and startformulier are not labelled, so only the category model sees them.
    extra = kennisbank_questions(training_data_dir / "kennisbank")
    log(f"plus {len(extra)} kennisbank questions for the category model only")
    texts, flags = [], []
    for text, subject in [(r.text, r.subject) for r in train_set] + [(t, "") for t in extra]:
        n = normalize(text, subject)
        texts.append(model_input("", n.model_text))
        flags.append(bool(crisis.detect((n.subject + "\n" if n.subject else "") + n.body)))
    known = [True] * len(train_set) + [False] * len(extra)
    models = TextModels.fit(
        texts, [r.category for r in train_set] + ["info_advies"] * len(extra),
        [r.domains for r in train_set] + [()] * len(extra), flags,
        aanmelder=[r.fields.get("aanmelder", "inwoner") for r in train_set] + ["inwoner"] * len(extra),
        kinderen=[bool(r.fields.get("kinderen")) for r in train_set] + [False] * len(extra),
        labels_known=known,
    )
    model_dir.mkdir(parents=True, exist_ok=True)
    models.save(model_dir)
    kb_dir = training_data_dir / "kennisbank"
    n_answers = 0
    if (kb_dir / "answers.jsonl").exists():
        from .kennisbank import build_index
        # support needs are kept from the answer model on purpose: the category
        # decides whether a standard answer is the response at all
        n_answers = build_index(kb_dir, model_dir)
    seconds = time.perf_counter() - t0
    manifest = {
        "trained_on": date.today().isoformat(),
        "n_messages": len(records),
        "n_train": len(train_set),
        "n_extra": len(extra_records),
        "n_heldout": len(heldout),
        "n_answers": n_answers,
        "corpus_sha256_16": corpus_hash(messages_dir),
        "train_seconds": round(seconds, 1),
        **{k: v for k, v in models.meta.items() if k != "n_train"},
    }
    (model_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    log(f"done in {seconds:.1f} s; models in {model_dir}")
    return manifest
