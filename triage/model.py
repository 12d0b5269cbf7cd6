"""The category and domain models (scikit-learn), their training and safe
persistence (skops, with only scikit-learn/NumPy/SciPy types trusted).

Text features: word 1-2-grams and character 2-5-grams (TF-IDF) over the
masked body text with a channel token. The domain model is one logistic
regression per domain with a threshold tuned on out-of-fold predictions.
The category model is a logistic regression over the text features plus the
domain model's out-of-fold probabilities, calibrated with Platt scaling.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion

from .dataset import CATEGORIES, DOMAINS

__all__ = ["TextModels", "model_input", "ModelLoadError"]

SEED = 20261124
N_FOLDS = 5
DOMAIN_WEIGHT = 2.0  # scale of the domain features in the multi-domain model
FLAG_WEIGHT = 3.0  # scale of the crisis-rule feature in the category model


class ModelLoadError(RuntimeError):
    """The model folder is missing, incomplete or holds untrusted types."""


def model_input(channel: str, masked_text: str) -> str:
    """The models read the masked text only: a channel token made near-empty
    chat messages ("ok", "test") look like crisis, because the chat slice of
    the corpus holds more crisis than real chat traffic does."""
    return masked_text


def _vectorizer() -> FeatureUnion:
    return FeatureUnion([
        ("w", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), min_df=2, max_df=0.6,
                              sublinear_tf=True, token_pattern=r"(?u)\b\w[\w']*\b",
                              max_features=60000, dtype=np.float32)),
        ("c", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=3, max_df=0.8,
                              sublinear_tf=True, max_features=120000, dtype=np.float32)),
    ])


def _domain_lr() -> LogisticRegression:
    return LogisticRegression(C=8.0, class_weight="balanced", max_iter=2000, solver="liblinear", random_state=SEED)


def _category_lr() -> LogisticRegression:
    return LogisticRegression(C=10.0, class_weight="balanced", max_iter=3000, solver="lbfgs", random_state=SEED)


@dataclass
class TextModels:
    vectorizer: FeatureUnion
    domain_models: list[LogisticRegression]
    domain_thresholds: np.ndarray
    category_model: CalibratedClassifierCV
    word_features: np.ndarray  # names of the word features (for reasons)
    crisis_threshold: float = 0.5
    meta: dict = field(default_factory=dict)
    aux_models: dict = field(default_factory=dict)  # "aanmelder" (3 classes), "kinderen" (yes/no)

    # ------------------------------------------------------------------ fit
    @classmethod
    def fit(cls, texts: list[str], categories: list[str], domains: list[tuple[str, ...]],
            crisis_flags: list[bool] | None = None, aanmelder: list[str] | None = None,
            kinderen: list[bool] | None = None) -> "TextModels":
        """Fit all models. ``crisis_flags`` is the rule detector's verdict per
        text: a feature of the category model, and part of the combined
        crisis decision whose threshold is tuned here on out-of-fold
        predictions (crisis = detector or P(crisis) >= threshold)."""
        y_cat = np.array([CATEGORIES.index(c) for c in categories])
        Y_dom = np.array([[d in ds for d in DOMAINS] for ds in domains], dtype=int)
        flags = np.array(crisis_flags if crisis_flags is not None else [False] * len(texts), dtype=bool)
        vec = _vectorizer()
        X = vec.fit_transform(texts).tocsr()
        Xf = _with_flag(X, flags)
        folds = list(StratifiedKFold(N_FOLDS, shuffle=True, random_state=SEED).split(X, y_cat))

        # out-of-fold domain and category probabilities
        oof_dom = np.zeros(Y_dom.shape, dtype=float)
        oof_cat = np.zeros((X.shape[0], len(CATEGORIES)))
        for tr, te in folds:
            for j in range(len(DOMAINS)):
                oof_dom[te, j] = _domain_lr().fit(X[tr], Y_dom[tr, j]).predict_proba(X[te])[:, 1]
            m = CalibratedClassifierCV(_category_lr(), method="sigmoid", cv=3, ensemble=False).fit(Xf[tr], y_cat[tr])
            oof_cat[te] = m.predict_proba(Xf[te])
        thresholds = np.array([_best_threshold(Y_dom[:, j], oof_dom[:, j]) for j in range(len(DOMAINS))])
        domain_models = [_domain_lr().fit(X, Y_dom[:, j]) for j in range(len(DOMAINS))]

        # enkelvoudig vs meervoudig, among support needs, with domain-count features
        need = np.isin(y_cat, [CATEGORIES.index("enkelvoudig"), CATEGORIES.index("meervoudig")])
        Xm = _with_domain_features(X, oof_dom, thresholds)
        multi_model = LogisticRegression(C=10.0, class_weight="balanced", max_iter=3000, random_state=SEED).fit(
            Xm[need], (y_cat[need] == CATEGORIES.index("meervoudig")).astype(int))
        oof_multi = np.zeros(len(y_cat))
        for tr, te in folds:
            tr_need = tr[need[tr]]
            mm = LogisticRegression(C=10.0, class_weight="balanced", max_iter=3000, random_state=SEED).fit(
                Xm[tr_need], (y_cat[tr_need] == CATEGORIES.index("meervoudig")).astype(int))
            oof_multi[te] = mm.predict_proba(Xm[te])[:, 1]

        crisis_idx = CATEGORIES.index("crisis")
        crisis_threshold = _crisis_threshold(y_cat == crisis_idx, oof_cat[:, crisis_idx], flags)
        cat_model = CalibratedClassifierCV(_category_lr(), method="sigmoid", cv=N_FOLDS, ensemble=False).fit(Xf, y_cat)
        aux = {}
        if aanmelder is not None:
            aux["aanmelder"] = LogisticRegression(C=5.0, class_weight="balanced", max_iter=2000,
                                                  random_state=SEED).fit(X, np.array(aanmelder))
        if kinderen is not None:
            aux["kinderen"] = _domain_lr().fit(X, np.array(kinderen, dtype=int))
        names = vec.get_feature_names_out()
        word_features = np.array([_reason_term(n) for n in names], dtype=object)
        oof_final = combine(oof_cat, oof_multi)
        oof_pred = decide(oof_final, flags, crisis_threshold)
        meta = {
            "n_train": len(texts),
            "oof_category_accuracy": float(np.mean(oof_pred == y_cat)),
            "oof_category_macro_f1": _macro_f1(y_cat, oof_pred),
            "domain_thresholds": dict(zip(DOMAINS, map(float, thresholds))),
            "crisis_threshold": crisis_threshold,
        }
        aux["multi"] = multi_model
        return cls(vec, domain_models, thresholds, cat_model, word_features, crisis_threshold, meta, aux)

    # -------------------------------------------------------------- predict
    def predict(self, texts: list[str], crisis_flags: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix]:
        """(category probabilities, domain probabilities, text features)."""
        X = self.vectorizer.transform(texts).tocsr()
        flags = np.zeros(len(texts), dtype=bool) if crisis_flags is None else np.asarray(crisis_flags, dtype=bool)
        dom = np.column_stack([m.predict_proba(X)[:, 1] for m in self.domain_models])
        cat = self.category_model.predict_proba(_with_flag(X, flags))
        multi = self.aux_models["multi"].predict_proba(_with_domain_features(X, dom, self.domain_thresholds))[:, 1]
        return combine(cat, multi), dom, X

    def top_terms(self, x_row: sp.csr_matrix, category: int, k: int = 5) -> list[str]:
        """The word features that pushed this text most towards ``category``."""
        base = self.category_model.calibrated_classifiers_[0].estimator
        coef = base.coef_[category][: x_row.shape[1]]
        idx, vals = x_row.indices, x_row.data
        contrib = vals * coef[idx]
        order = np.argsort(-contrib)
        terms: list[str] = []
        for i in order:
            if contrib[i] <= 0 or len(terms) >= k:
                break
            name = self.word_features[idx[i]]
            if name and not name.startswith("zz"):
                terms.append(name)
        return terms

    # ---------------------------------------------------------- persistence
    def save(self, folder: Path) -> None:
        import skops.io as sio

        folder.mkdir(parents=True, exist_ok=True)
        sio.dump({
            "vectorizer": self.vectorizer,
            "domain_models": self.domain_models,
            "category_model": self.category_model,
            "aux_models": self.aux_models,
        }, folder / "text_models.skops")
        np.save(folder / "word_features.npy", self.word_features.astype(str), allow_pickle=False)
        (folder / "text_models.json").write_text(json.dumps({
            "domain_thresholds": list(map(float, self.domain_thresholds)),
            "crisis_threshold": self.crisis_threshold,
            "meta": self.meta,
        }, indent=2, sort_keys=True), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "TextModels":
        import skops.io as sio

        path = folder / "text_models.skops"
        if not path.exists():
            raise ModelLoadError(f"no trained model in {folder}: run `triage train`")
        untrusted = sio.get_untrusted_types(file=path)
        bad = [t for t in untrusted if not t.startswith(("sklearn.", "numpy.", "scipy.", "builtins."))]
        if bad:
            raise ModelLoadError(f"refusing to load {path}: untrusted types {bad}")
        objs = sio.load(path, trusted=untrusted)
        info = json.loads((folder / "text_models.json").read_text(encoding="utf-8"))
        words = np.load(folder / "word_features.npy", allow_pickle=False).astype(object)
        return cls(objs["vectorizer"], objs["domain_models"], np.array(info["domain_thresholds"]),
                   objs["category_model"], words, float(info["crisis_threshold"]), info.get("meta", {}),
                   objs.get("aux_models", {}))

    def aux_predict(self, X: sp.csr_matrix) -> dict[str, np.ndarray]:  # noqa: D401
        """Per row: aanmelder label and P(minor children in the household)."""
        out = {}
        if "aanmelder" in self.aux_models:
            out["aanmelder"] = self.aux_models["aanmelder"].predict(X)
        if "kinderen" in self.aux_models:
            out["kinderen"] = self.aux_models["kinderen"].predict_proba(X)[:, 1]
        return out


def _reason_term(name: str) -> str:
    """A word feature worth showing as a reason, or "" (stop words, masks)."""
    from spacy.lang.nl.stop_words import STOP_WORDS

    if not name.startswith("w__"):
        return ""
    words = name[3:].split()
    if all(w in STOP_WORDS or w.startswith("zz") or len(w) < 3 for w in words):
        return ""
    return name[3:]


def _with_flag(X: sp.csr_matrix, flags: np.ndarray) -> sp.csr_matrix:
    return sp.hstack([X, sp.csr_matrix(flags.astype(np.float32)[:, None] * FLAG_WEIGHT)], format="csr")


def _with_domain_features(X: sp.csr_matrix, dom: np.ndarray, thresholds: np.ndarray) -> sp.csr_matrix:
    top = np.sort(dom, axis=1)[:, ::-1]
    n_over = (dom >= thresholds).sum(axis=1)
    feats = np.column_stack([top[:, 0], top[:, 1], top[:, 2], n_over >= 2, n_over]).astype(np.float32)
    return sp.hstack([X, sp.csr_matrix(feats * DOMAIN_WEIGHT)], format="csr")


def combine(cat: np.ndarray, multi: np.ndarray) -> np.ndarray:
    """Final category probabilities: the category model decides info versus
    support need versus crisis; the multi-domain model splits the support
    need into enkelvoudig and meervoudig."""
    out = cat.copy()
    need = cat[:, 1] + cat[:, 2]
    out[:, 1] = need * (1 - multi)
    out[:, 2] = need * multi
    return out


def _macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    f1s = []
    for c in range(len(CATEGORIES)):
        tp = np.sum((pred == c) & (y == c))
        f1s.append(2 * tp / max(1, np.sum(pred == c) + np.sum(y == c)))
    return float(np.mean(f1s))


def _best_threshold(y: np.ndarray, p: np.ndarray) -> float:
    best, best_f1 = 0.5, -1.0
    for t in np.arange(0.15, 0.81, 0.025):
        pred = p >= t
        tp = np.sum(pred & (y == 1))
        f1 = 2 * tp / max(1, pred.sum() + y.sum())
        if f1 > best_f1 + 1e-9:
            best, best_f1 = float(t), f1
    return round(best, 3)


def _crisis_threshold(y: np.ndarray, p: np.ndarray, flags: np.ndarray) -> float:
    """The threshold with the best F2 (recall counts four times precision)
    for the combined rule: detector or P(crisis) >= t. A missed crisis is
    far worse than a person looking at a message that was not one, but a
    threshold under 0.2 sends short, empty or odd messages ("ok", "test")
    to crisis, because their probabilities sit near the prior."""
    best, best_f = 0.5, -1.0
    for t in np.arange(0.20, 0.61, 0.025):
        pred = flags | (p >= t)
        tp = np.sum(pred & y)
        prec = tp / max(1, pred.sum())
        rec = tp / max(1, y.sum())
        f2 = 5 * prec * rec / max(1e-9, 4 * prec + rec)
        if f2 > best_f + 1e-9:
            best, best_f = float(t), f2
    return round(best, 3)


def decide(cat_probs: np.ndarray, crisis_flags: np.ndarray, crisis_threshold: float) -> np.ndarray:
    """Category index per row: crisis when the detector fired or the crisis
    probability reaches the threshold; otherwise the most probable of the
    other categories."""
    crisis_idx = CATEGORIES.index("crisis")
    rest = cat_probs.copy()
    rest[:, crisis_idx] = -1
    out = rest.argmax(axis=1)
    is_crisis = crisis_flags | (cat_probs[:, crisis_idx] >= crisis_threshold)
    out[is_crisis] = crisis_idx
    return out

