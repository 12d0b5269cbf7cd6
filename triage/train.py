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


def train(training_data_dir: Path, model_dir: Path, log=print) -> dict:
    t0 = time.perf_counter()
    messages_dir = training_data_dir / "messages"
    records = load_records(messages_dir)
    train_set, heldout = split(records)
    if len(train_set) < 20:
        raise ValueError(f"too few training records in {messages_dir}: {len(train_set)}")
    log(f"training on {len(train_set)} messages ({len(heldout)} held out, never used)")
    texts, flags = [], []
    for r in train_set:
        n = normalize(r.text, r.subject)
        texts.append(model_input(r.channel, n.model_text))
        flags.append(bool(crisis.detect((n.subject + "\n" if n.subject else "") + n.body)))
    models = TextModels.fit(
        texts, [r.category for r in train_set], [r.domains for r in train_set], flags,
        aanmelder=[r.fields.get("aanmelder", "inwoner") for r in train_set],
        kinderen=[bool(r.fields.get("kinderen")) for r in train_set],
    )
    model_dir.mkdir(parents=True, exist_ok=True)
    models.save(model_dir)
    kb_dir = training_data_dir / "kennisbank"
    n_answers = 0
    if (kb_dir / "answers.jsonl").exists():
        from .kennisbank import build_index
        needs = [r.text for r in train_set if r.category in ("enkelvoudig", "meervoudig")]
        n_answers = build_index(kb_dir, model_dir, none_texts=needs)
    seconds = time.perf_counter() - t0
    manifest = {
        "trained_on": date.today().isoformat(),
        "n_messages": len(records),
        "n_train": len(train_set),
        "n_heldout": len(heldout),
        "n_answers": n_answers,
        "corpus_sha256_16": corpus_hash(messages_dir),
        "train_seconds": round(seconds, 1),
        **{k: v for k, v in models.meta.items() if k != "n_train"},
    }
    (model_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    log(f"done in {seconds:.1f} s; models in {model_dir}")
    return manifest
