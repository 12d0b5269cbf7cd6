"""The compiled inference computes exactly what scikit-learn computes."""

import numpy as np
import pytest

from triage.dataset import CATEGORIES, DOMAINS
from triage.model import (TextModels, _domain_features, _with_domain_features, _with_flag, calibrated, combine,
                          model_input, platt)
from triage.normalize import normalize


@pytest.fixture(scope="module")
def fitted(corpus):
    recs = corpus[::6][:300]
    texts = [model_input(r.channel, normalize(r.text, r.subject).model_text) for r in recs]
    flags = [r.category == "crisis" and i % 2 == 0 for i, r in enumerate(recs)]
    parts = TextModels.fit_sklearn(texts, [r.category for r in recs], [r.domains for r in recs], flags,
                                   aanmelder=[r.fields.get("aanmelder", "inwoner") for r in recs],
                                   kinderen=[bool(r.fields.get("kinderen")) for r in recs])
    return texts, np.array(flags), parts


def test_vectorizer_equals_sklearn(fitted):
    from triage.compiled import CompiledVectorizer

    texts, _, (vec, *_rest) = fitted
    ours = CompiledVectorizer.from_union(vec).transform(texts).toarray()
    ref = vec.transform(texts).toarray()
    assert np.allclose(ours, ref, atol=1e-6)


def test_predictions_equal_sklearn(fitted, tmp_path):
    texts, flags, parts = fitted
    vec, cat_model, domain_models, multi_model, aux, thresholds, crisis_threshold, meta = parts
    models = TextModels.from_sklearn(*parts)
    models.save(tmp_path)
    loaded = TextModels.load(tmp_path)
    X = vec.transform(texts).tocsr()
    base, cal_a, cal_b = cat_model
    ref_cat = calibrated(base.decision_function(_with_flag(X, flags)), cal_a, cal_b)
    ref_dom = np.column_stack([m.predict_proba(X)[:, 1] for m in domain_models])
    ref_multi = multi_model.predict_proba(_with_domain_features(X, ref_dom, thresholds))[:, 1]
    for m in (models, loaded):
        cat, dom, _, aux_out = m.predict(texts, flags)
        assert np.allclose(dom, ref_dom, atol=1e-5)
        assert np.allclose(cat, combine(ref_cat, ref_multi), atol=1e-5)
        assert np.allclose(aux_out["kinderen"], aux["kinderen"].predict_proba(X)[:, 1], atol=1e-5)
        assert list(aux_out["aanmelder"]) == list(aux["aanmelder"].predict(X))
    assert _domain_features(ref_dom, thresholds).shape == (len(texts), 5)
    assert len(CATEGORIES) == 4 and len(DOMAINS) == 8


def test_platt_matches_scikit_learn():
    from sklearn.calibration import _SigmoidCalibration

    rng = np.random.default_rng(0)
    f = rng.normal(size=400)
    y = (f + rng.normal(scale=0.8, size=400)) > 0.3
    a, b = platt(f, y)
    ref = _SigmoidCalibration().fit(f, y.astype(int))
    assert abs(a - ref.a_) < 1e-3 and abs(b - ref.b_) < 1e-3
