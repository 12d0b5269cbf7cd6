"""Fast, safe inference for the trained linear models.

Training uses scikit-learn. After training, the fitted vectorizers and
linear models are exported as plain arrays (vocabulary, idf, weights,
calibration parameters) in an ``.npz`` file plus JSON: nothing executable,
loaded with ``allow_pickle=False``. Inference re-implements exactly what
TfidfVectorizer (sublinear tf, l2 norm), LogisticRegression and Platt
calibration compute, in one sparse matrix product for all models, without
scikit-learn's per-call validation overhead. tests/test_compiled.py checks
that the results equal scikit-learn's.
"""

from __future__ import annotations

import json
from collections import Counter
from itertools import repeat
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

__all__ = ["CompiledVectorizer", "expit", "softmax"]


def expit(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


_PARAMS = ("analyzer", "ngram_range", "token_pattern", "lowercase", "sublinear_tf", "norm")


class CompiledVectorizer:
    """A union of TF-IDF blocks (each l2-normalized on its own, as in a
    FeatureUnion of TfidfVectorizers), from exported arrays."""

    def __init__(self, blocks: list[dict]):
        self.block_data = blocks  # what was loaded: params, terms, idf (for saving)
        self.blocks = []
        offset = 0
        for b in blocks:
            params = dict(b["params"])
            params["ngram_range"] = tuple(params["ngram_range"])
            analyzer = TfidfVectorizer(**params).build_analyzer()
            terms = b["terms"]
            vocab = {t: i for i, t in enumerate(terms.tolist())}
            self.blocks.append((analyzer, vocab, b["idf"].astype(np.float64), offset, params["sublinear_tf"]))
            offset += len(terms)
        self.n_features = offset

    @classmethod
    def from_union(cls, union) -> "CompiledVectorizer":
        return cls(cls.export(union))

    @staticmethod
    def export(union) -> list[dict]:
        blocks = []
        for _, vec in union.transformer_list:
            vocab = vec.vocabulary_
            terms = np.empty(len(vocab), dtype=object)
            for t, i in vocab.items():
                terms[i] = t
            blocks.append({
                "params": {k: getattr(vec, k) for k in _PARAMS},
                "terms": terms.astype(str),
                "idf": vec.idf_.astype(np.float64),
            })
        return blocks

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        rows_idx: list[np.ndarray] = []
        rows_val: list[np.ndarray] = []
        indptr = [0]
        for text in texts:
            n = 0
            for analyzer, vocab, idf, offset, sublinear in self.blocks:
                counts = Counter(analyzer(text))
                if not counts:
                    continue
                idx = np.fromiter(map(vocab.get, counts.keys(), repeat(-1)), dtype=np.int64, count=len(counts))
                keep = idx >= 0
                if not keep.any():
                    continue
                idx = idx[keep]
                tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))[keep]
                if sublinear:
                    tf = 1.0 + np.log(tf)
                vals = tf * idf[idx]
                vals /= np.sqrt(np.dot(vals, vals))
                rows_idx.append(idx + offset)
                rows_val.append(vals)
                n += len(idx)
            indptr.append(indptr[-1] + n)
        indices = np.concatenate(rows_idx).astype(np.int32) if rows_idx else np.zeros(0, dtype=np.int32)
        data = np.concatenate(rows_val).astype(np.float32) if rows_val else np.zeros(0, dtype=np.float32)
        # float32, like the weights: a mixed product would copy the weights to float64 on every call
        return sp.csr_matrix((data, indices, np.array(indptr, dtype=np.int32)), shape=(len(texts), self.n_features))


def save_arrays(path: Path, arrays: dict, meta: dict) -> None:
    np.savez_compressed(path.with_suffix(".npz"), **arrays)
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")


def load_arrays(path: Path) -> tuple[dict, dict]:
    with np.load(path.with_suffix(".npz"), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    return arrays, meta


def vectorizer_arrays(prefix: str, vectorizer: CompiledVectorizer) -> tuple[dict, list]:
    """Arrays and JSON-able block params of a compiled vectorizer."""
    arrays, params = {}, []
    for i, b in enumerate(vectorizer.block_data):
        arrays[f"{prefix}{i}_terms"] = b["terms"]
        arrays[f"{prefix}{i}_idf"] = b["idf"]
        p = dict(b["params"])
        p["ngram_range"] = list(p["ngram_range"])
        params.append(p)
    return arrays, params


def vectorizer_from_arrays(prefix: str, arrays: dict, params: list) -> CompiledVectorizer:
    return CompiledVectorizer([
        {"params": p, "terms": arrays[f"{prefix}{i}_terms"], "idf": arrays[f"{prefix}{i}_idf"]}
        for i, p in enumerate(params)
    ])
