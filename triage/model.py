"""The category, domain and startformulier text models: training with
scikit-learn, and safe persistence and fast inference in compiled form.

Text features: word 1-2-grams and character 2-5-grams (TF-IDF) over the
masked body text with a channel token. The domain model is one logistic
regression per domain with a threshold tuned on out-of-fold predictions.
The category model is a logistic regression over the text features and the
crisis-rule flag, calibrated with Platt scaling; a second model splits a
support need into enkelvoudig or meervoudig from the text and the domain
model's scores. After training everything is exported to the compiled form
(compiled.py): plain arrays, loaded without pickle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion

from .compiled import (CompiledVectorizer, expit, load_arrays, save_arrays, vectorizer_arrays,
                       vectorizer_from_arrays)
from .dataset import CATEGORIES, DOMAINS

__all__ = ["TextModels", "model_input", "ModelLoadError"]

SEED = 20261124
N_FOLDS = 5
DOMAIN_WEIGHT = 2.0  # scale of the domain features in the multi-domain model
N_JOBS = 2  # the machine's cores; training folds run side by side
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
    """All text models as one compiled linear layer (see compiled.py).

    Columns of ``W``: category (4), domains (8), multi-domain (1), kinderen
    (1), aanmelder (1 when binary, else one per class).
    """

    vectorizer: CompiledVectorizer
    W: np.ndarray  # (n_features, n_outputs), float32
    b: np.ndarray  # (n_outputs,)
    flag_w: np.ndarray  # category weights of the crisis-rule feature (4,)
    multi_extra_w: np.ndarray  # weights of the domain-count features (5,)
    cal_a: np.ndarray  # Platt calibration per category (4,)
    cal_b: np.ndarray
    domain_thresholds: np.ndarray
    crisis_threshold: float
    aanmelder_classes: list
    reason_mask: np.ndarray  # word features worth showing as a reason
    word_terms: np.ndarray
    meta: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ fit
    @classmethod
    def fit(cls, texts: list[str], categories: list[str], domains: list[tuple[str, ...]],
            crisis_flags: list[bool] | None = None, aanmelder: list[str] | None = None,
            kinderen: list[bool] | None = None, labels_known: list[bool] | None = None) -> "TextModels":
        return cls.from_sklearn(*cls.fit_sklearn(texts, categories, domains, crisis_flags, aanmelder, kinderen,
                                                 labels_known))

    @staticmethod
    def fit_sklearn(texts: list[str], categories: list[str], domains: list[tuple[str, ...]],
                    crisis_flags: list[bool] | None = None, aanmelder: list[str] | None = None,
                    kinderen: list[bool] | None = None, labels_known: list[bool] | None = None) -> tuple:
        """Fit all models with scikit-learn; returns what from_sklearn takes.
        ``labels_known`` marks texts whose domains and startformulier labels
        are known; the others (category-only examples) train the category
        model only. ``crisis_flags`` is the rule detector's verdict per
        text: a feature of the category model, and part of the combined
        crisis decision whose threshold is tuned here on out-of-fold
        predictions (crisis = detector or P(crisis) >= threshold)."""
        y_cat = np.array([CATEGORIES.index(c) for c in categories])
        Y_dom = np.array([[d in ds for d in DOMAINS] for ds in domains], dtype=int)
        flags = np.array(crisis_flags if crisis_flags is not None else [False] * len(texts), dtype=bool)
        known = np.ones(len(texts), dtype=bool) if labels_known is None else np.asarray(labels_known, dtype=bool)
        vec = _vectorizer()
        X = vec.fit_transform(texts).tocsr()
        Xf = _with_flag(X, flags)
        folds = list(StratifiedKFold(N_FOLDS, shuffle=True, random_state=SEED).split(X, y_cat))

        # out-of-fold domain probabilities and category decision values, one fold per job (2 cores)
        def fold_job(tr, te):
            trk = tr[known[tr]]
            dom = np.column_stack([_domain_lr().fit(X[trk], Y_dom[trk, j]).predict_proba(X[te])[:, 1]
                                   for j in range(len(DOMAINS))])
            dec = _category_lr().fit(Xf[tr], y_cat[tr]).decision_function(Xf[te])
            return te, dom, dec

        oof_dom = np.zeros(Y_dom.shape, dtype=float)
        oof_dec = np.zeros((X.shape[0], len(CATEGORIES)))
        for te, dom, dec in Parallel(n_jobs=N_JOBS, max_nbytes=None)(delayed(fold_job)(tr, te) for tr, te in folds):
            oof_dom[te], oof_dec[te] = dom, dec
        thresholds = np.array([_best_threshold(Y_dom[known, j], oof_dom[known, j]) for j in range(len(DOMAINS))])
        # Platt scaling per category on the out-of-fold decision values (as
        # CalibratedClassifierCV(ensemble=False) does), base model on all data
        cal_a, cal_b = zip(*(platt(oof_dec[:, k], y_cat == k) for k in range(len(CATEGORIES))))
        cal_a, cal_b = np.array(cal_a), np.array(cal_b)
        oof_cat = calibrated(oof_dec, cal_a, cal_b)

        # enkelvoudig vs meervoudig, among support needs, with domain-count features
        need = np.isin(y_cat, [CATEGORIES.index("enkelvoudig"), CATEGORIES.index("meervoudig")])
        Xm = _with_domain_features(X, oof_dom, thresholds)
        is_multi = (y_cat == CATEGORIES.index("meervoudig")).astype(int)

        def multi_job(tr, te):
            tr_need = tr[need[tr]]
            return te, _multi_lr().fit(Xm[tr_need], is_multi[tr_need]).predict_proba(Xm[te])[:, 1]

        def final_job(name):
            if name == "category":
                return _category_lr().fit(Xf, y_cat)
            if name == "multi":
                return _multi_lr().fit(Xm[need], is_multi[need])
            if name == "domains":
                return [_domain_lr().fit(X[known], Y_dom[known, j]) for j in range(len(DOMAINS))]
            if name == "aanmelder":
                return LogisticRegression(C=5.0, class_weight="balanced", max_iter=2000,
                                          random_state=SEED).fit(X[known], np.array(aanmelder)[known])
            return _domain_lr().fit(X[known], np.array(kinderen, dtype=int)[known])

        oof_multi = np.zeros(len(y_cat))
        for te, pm in Parallel(n_jobs=N_JOBS, max_nbytes=None)(delayed(multi_job)(tr, te) for tr, te in folds):
            oof_multi[te] = pm
        names = ["category", "multi", "domains"] + (["aanmelder"] if aanmelder is not None else []) + \
            (["kinderen"] if kinderen is not None else [])
        fitted = dict(zip(names, Parallel(n_jobs=N_JOBS, max_nbytes=None)(delayed(final_job)(n) for n in names)))
        cat_model = (fitted["category"], cal_a, cal_b)
        domain_models, multi_model = fitted["domains"], fitted["multi"]
        aux = {k: fitted[k] for k in ("aanmelder", "kinderen") if k in fitted}

        crisis_idx = CATEGORIES.index("crisis")
        crisis_threshold = _crisis_threshold(y_cat == crisis_idx, oof_cat[:, crisis_idx], flags)
        oof_final = combine(oof_cat, oof_multi)
        oof_pred = decide(oof_final, flags, crisis_threshold)
        meta = {
            "n_train": len(texts),
            "n_category_only": int((~known).sum()),
            "oof_category_accuracy": float(np.mean(oof_pred[known] == y_cat[known])),
            "oof_category_macro_f1": _macro_f1(y_cat[known], oof_pred[known]),
            "domain_thresholds": dict(zip(DOMAINS, map(float, thresholds))),
            "crisis_threshold": crisis_threshold,
        }
        return vec, cat_model, domain_models, multi_model, aux, thresholds, crisis_threshold, meta

    @classmethod
    def from_sklearn(cls, vec, cat_model, domain_models, multi_model, aux, thresholds, crisis_threshold, meta) -> "TextModels":
        compiled = CompiledVectorizer.from_union(vec)
        F = compiled.n_features
        base, cal_a, cal_b = cat_model
        cols, bias = [base.coef_[:, :F].T], [base.intercept_]
        cols += [m.coef_[:, :F].T for m in domain_models]
        bias += [m.intercept_ for m in domain_models]
        cols.append(multi_model.coef_[:, :F].T)
        bias.append(multi_model.intercept_)
        kid = aux.get("kinderen")
        aan = aux.get("aanmelder")
        cols.append(kid.coef_.T if kid is not None else np.zeros((F, 1)))
        bias.append(kid.intercept_ if kid is not None else np.array([-10.0]))
        if aan is not None:
            cols.append(aan.coef_.T)
            bias.append(aan.intercept_)
            aan_classes = [str(c) for c in aan.classes_]
        else:
            aan_classes = ["inwoner"]
        terms = vec.transformer_list[0][1].get_feature_names_out()
        return cls(
            vectorizer=compiled,
            W=np.hstack(cols).astype(np.float32),
            b=np.concatenate(bias).astype(np.float64),
            flag_w=base.coef_[:, F].astype(np.float64),
            multi_extra_w=multi_model.coef_[0, F:].astype(np.float64),
            cal_a=np.asarray(cal_a, dtype=np.float64),
            cal_b=np.asarray(cal_b, dtype=np.float64),
            domain_thresholds=np.asarray(thresholds, dtype=np.float64),
            crisis_threshold=float(crisis_threshold),
            aanmelder_classes=aan_classes,
            reason_mask=np.array([bool(_reason_term("w__" + t)) for t in terms]),
            word_terms=np.asarray(terms, dtype=str),
            meta=meta,
        )

    # -------------------------------------------------------------- predict
    def predict(self, texts: list[str], crisis_flags: np.ndarray | None = None) -> tuple:
        """(category probabilities, domain probabilities, text features,
        {"aanmelder": labels, "kinderen": probabilities}). Thread-safe."""
        X = self.vectorizer.transform(texts)
        Z = np.asarray(X @ self.W, dtype=np.float64) + self.b
        flags = np.zeros(len(texts), dtype=bool) if crisis_flags is None else np.asarray(crisis_flags, dtype=bool)
        k = len(CATEGORIES)
        z_cat = Z[:, :k] + np.outer(flags.astype(np.float64) * FLAG_WEIGHT, self.flag_w)
        cat = calibrated(z_cat, self.cal_a, self.cal_b)
        dom = expit(Z[:, k:k + len(DOMAINS)])
        j = k + len(DOMAINS)
        multi = expit(Z[:, j] + _domain_features(dom, self.domain_thresholds) @ self.multi_extra_w)
        return combine(cat, multi), dom, X, self._aux(Z)

    def _aux(self, Z: np.ndarray) -> dict[str, np.ndarray]:
        """Per row: aanmelder label and P(minor children in the household)."""
        j = len(CATEGORIES) + len(DOMAINS) + 1
        out = {"kinderen": expit(Z[:, j])}
        az = Z[:, j + 1:]
        if len(self.aanmelder_classes) == 2:
            out["aanmelder"] = np.array(self.aanmelder_classes)[(az[:, 0] > 0).astype(int)]
        elif len(self.aanmelder_classes) > 2:
            out["aanmelder"] = np.array(self.aanmelder_classes)[az.argmax(axis=1)]
        return out

    def top_terms(self, x_row: sp.csr_matrix, category: int, k: int = 5) -> list[str]:
        """The word features that pushed this text most towards ``category``."""
        n_words = len(self.word_terms)
        idx, vals = x_row.indices, x_row.data
        keep = idx < n_words
        idx, vals = idx[keep], vals[keep]
        contrib = vals * self.W[idx, category]
        terms: list[str] = []
        for i in np.argsort(-contrib):
            if contrib[i] <= 0 or len(terms) >= k:
                break
            if self.reason_mask[idx[i]]:
                terms.append(str(self.word_terms[idx[i]]))
        return terms

    # ---------------------------------------------------------- persistence
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        arrays, params = vectorizer_arrays("vec", self.vectorizer)
        arrays.update(W=self.W, b=self.b, flag_w=self.flag_w, multi_extra_w=self.multi_extra_w,
                      cal_a=self.cal_a, cal_b=self.cal_b, domain_thresholds=self.domain_thresholds,
                      reason_mask=self.reason_mask, word_terms=self.word_terms)
        meta = {"format": 1, "vectorizer": params, "crisis_threshold": self.crisis_threshold,
                "aanmelder_classes": self.aanmelder_classes, "categories": list(CATEGORIES),
                "domains": list(DOMAINS), "meta": self.meta}
        save_arrays(folder / "text_models", arrays, meta)

    @classmethod
    def load(cls, folder: Path) -> "TextModels":
        path = Path(folder) / "text_models"
        if not path.with_suffix(".npz").exists():
            raise ModelLoadError(f"no trained model in {folder}: run `triage train`")
        try:
            arrays, meta = load_arrays(path)
        except (ValueError, OSError, json.JSONDecodeError) as exc:
            raise ModelLoadError(f"cannot read {path}.npz: {exc}") from exc
        if meta.get("categories") != list(CATEGORIES) or meta.get("domains") != list(DOMAINS):
            raise ModelLoadError(f"{path}: trained for other labels; run `triage train`")
        return cls(
            vectorizer=vectorizer_from_arrays("vec", arrays, meta["vectorizer"]),
            W=arrays["W"], b=arrays["b"], flag_w=arrays["flag_w"], multi_extra_w=arrays["multi_extra_w"],
            cal_a=arrays["cal_a"], cal_b=arrays["cal_b"], domain_thresholds=arrays["domain_thresholds"],
            crisis_threshold=float(meta["crisis_threshold"]), aanmelder_classes=list(meta["aanmelder_classes"]),
            reason_mask=arrays["reason_mask"], word_terms=arrays["word_terms"], meta=meta.get("meta", {}),
        )


def platt(decision: np.ndarray, positive: np.ndarray) -> tuple[float, float]:
    """Platt's sigmoid fit P(y=1 | f) = 1 / (1 + exp(a f + b)), with his
    smoothed targets (as scikit-learn's sigmoid calibration)."""
    from scipy.optimize import minimize

    f = decision.astype(np.float64)
    scale = max(1.0, float(np.max(np.abs(f)))) if np.max(np.abs(f)) >= 30 else 1.0
    f = f / scale
    n_pos = float(np.sum(positive))
    n_neg = float(len(positive) - n_pos)
    t = np.where(positive, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))

    def loss(ab):
        z = ab[0] * f + ab[1]
        # -log likelihood with p = expit(-z)
        return float(np.sum(t * np.logaddexp(0, z) + (1 - t) * np.logaddexp(0, -z)))

    def grad(ab):
        z = ab[0] * f + ab[1]
        d = t - expit(-z)  # d loss / d z
        return np.array([np.dot(d, f), np.sum(d)])

    res = minimize(loss, x0=np.array([0.0, np.log((n_neg + 1.0) / (n_pos + 1.0))]), jac=grad, method="L-BFGS-B",
                   options={"gtol": 1e-8, "ftol": 1e-12})
    return float(res.x[0]) / scale, float(res.x[1])


def calibrated(decision: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-category Platt probabilities, normalized over the categories."""
    p = expit(-(a * decision + b))
    denom = p.sum(axis=1, keepdims=True)
    return np.where(denom > 0, p / np.where(denom > 0, denom, 1), 1.0 / p.shape[1])


def _multi_lr() -> LogisticRegression:
    return LogisticRegression(C=10.0, class_weight="balanced", max_iter=3000, random_state=SEED)


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


def _domain_features(dom: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    top = np.sort(dom, axis=1)[:, ::-1]
    n_over = (dom >= thresholds).sum(axis=1)
    return np.column_stack([top[:, 0], top[:, 1], top[:, 2], n_over >= 2, n_over]).astype(np.float64) * DOMAIN_WEIGHT


def _with_domain_features(X: sp.csr_matrix, dom: np.ndarray, thresholds: np.ndarray) -> sp.csr_matrix:
    return sp.hstack([X, sp.csr_matrix(_domain_features(dom, thresholds).astype(np.float32))], format="csr")


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


CRISIS_TARGET_RECALL = 0.985
CRISIS_MIN_PRECISION = 0.80


def _crisis_threshold(y: np.ndarray, p: np.ndarray, flags: np.ndarray) -> float:
    """The crisis threshold for the combined rule: detector or P(crisis) >= t.

    A missed crisis is far worse than a person looking at a message that was
    not one: take the highest threshold whose out-of-fold recall still
    reaches CRISIS_TARGET_RECALL with precision >= CRISIS_MIN_PRECISION;
    when none does, the best F2 (recall weighs four times). Never under
    0.10: near-empty messages ("ok", "test") sit near the prior."""
    grid = np.round(np.arange(0.10, 0.61, 0.025), 3)
    stats = []
    for t in grid:
        pred = flags | (p >= t)
        tp = np.sum(pred & y)
        stats.append((float(t), tp / max(1, y.sum()), tp / max(1, pred.sum())))
    ok = [t for t, rec, prec in stats if rec >= CRISIS_TARGET_RECALL and prec >= CRISIS_MIN_PRECISION]
    if ok:
        return max(ok)
    return max(stats, key=lambda s: 5 * s[1] * s[2] / max(1e-9, 4 * s[2] + s[1]))[0]


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

