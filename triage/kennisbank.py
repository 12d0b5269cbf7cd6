"""The kennisbank: standard answers and retrieval with a score.

Each answer has example questions. A logistic regression over word and
character n-grams learns the answers from those examples, plus a class
"no answer" learned from support needs and questions the kennisbank does not
cover. The score is the answer's probability; when "no answer" wins or the
score is below the configured minimum, the result is an explicit "no answer
fits" (None). Answer texts hold {placeholders} that are
filled from the municipality configuration, never hard-coded numbers.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from .compiled import (CompiledVectorizer, load_arrays, save_arrays, softmax, vectorizer_arrays,
                       vectorizer_from_arrays)
from .config import Municipality
from .normalize import Normalized, normalize

__all__ = ["Answer", "AnswerMatch", "Kennisbank", "build_index", "detect_language", "CRISIS_ANSWER_ID"]

CRISIS_ANSWER_ID = "kb-crisis"
INDEX_FILE = "kennisbank.json"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")

_EN_WORDS = {"the", "and", "my", "i", "is", "to", "for", "we", "have", "you", "with", "what", "how", "can",
             "do", "help", "please", "our", "me", "need", "would", "like", "are", "this", "of", "it", "in", "not"}
_NL_WORDS = {"de", "het", "en", "ik", "een", "is", "van", "mijn", "niet", "met", "voor", "op", "dat", "wij",
             "ze", "hij", "hoe", "wat", "kan", "heb", "jullie", "graag", "zijn", "er", "maar", "u", "naar"}


def detect_language(text: str) -> str:
    """'en' when the text reads as English, otherwise 'nl'."""
    words = re.findall(r"[a-zA-Z']+", text.lower())[:200]
    en = sum(w in _EN_WORDS for w in words)
    nl = sum(w in _NL_WORDS for w in words)
    return "en" if en > nl and en >= 2 else "nl"


@dataclass(frozen=True)
class Answer:
    id: str
    title: str
    domains: tuple[str, ...]
    examples: tuple[str, ...]
    answer: str
    answer_en: str
    last_reviewed: str


@dataclass(frozen=True)
class AnswerMatch:
    answer_id: str
    score: float
    title: str


def load_answers(path: Path) -> list[Answer]:
    answers = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            raw = json.loads(line)
            try:
                answers.append(Answer(raw["id"], raw["title"], tuple(raw.get("domains", [])), tuple(raw["examples"]),
                                      raw["answer"], raw.get("answer_en", ""), raw.get("last_reviewed", "")))
            except KeyError as exc:
                raise ValueError(f"{path}:{lineno}: answer lacks {exc}") from exc
    return answers


NONE = "__none__"
MODEL_FILE = "kennisbank_model"  # .npz + .json


def _answer_vectorizer() -> FeatureUnion:
    return FeatureUnion([
        ("w", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=1,
                              token_pattern=r"(?u)\b\w[\w']*\b", dtype=np.float32)),
        ("c", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2, dtype=np.float32)),
    ])


def build_index(kennisbank_dir: Path, model_dir: Path, none_texts: list[str] | None = None) -> int:
    """Train the answer model and copy the answers into the model folder,
    so the product needs only models/ at run time. Training texts: each
    answer's title, examples and answer text, examples.jsonl (answer_id or null), and
    ``none_texts`` (support needs from the training split) as "no answer".
    Returns the number of answers."""
    from sklearn.linear_model import LogisticRegression

    src = kennisbank_dir / "answers.jsonl"
    answers = load_answers(src)  # validates
    texts: list[str] = []
    labels: list[str] = []
    for a in answers:
        if a.id == CRISIS_ANSWER_ID:
            continue  # the crisis answer comes only from the crisis decision
        # the answer text itself (Dutch and English, placeholders removed)
        # teaches the words a matching question is likely to use; chosen by
        # 5-fold cross-validation on the training examples (more right answers,
        # fewer confident wrong ones, "no answer" recall unchanged)
        bodies = [_PLACEHOLDER.sub(" ", x) for x in (a.answer, a.answer_en) if x.strip()]
        for t in (a.title, *a.examples, *bodies):
            texts.append(t)
            labels.append(a.id)
    extra = kennisbank_dir / "examples.jsonl"
    if extra.exists():
        known = {a.id for a in answers}
        with open(extra, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                raw = json.loads(line)
                aid = raw.get("answer_id")
                if aid is not None and aid not in known:
                    raise ValueError(f"{extra}:{lineno}: unknown answer_id {aid!r}")
                if aid == CRISIS_ANSWER_ID:
                    continue
                texts.append(raw["text"])
                labels.append(aid or NONE)
    for t in none_texts or []:
        texts.append(t)
        labels.append(NONE)
    vec = _answer_vectorizer()
    X = vec.fit_transform([normalize(t).model_text for t in texts])
    clf = LogisticRegression(C=50.0, max_iter=3000, random_state=0).fit(X, np.array(labels))
    compiled = CompiledVectorizer.from_union(vec)
    arrays, params = vectorizer_arrays("vec", compiled)
    arrays.update(W=clf.coef_.T.astype(np.float32), b=clf.intercept_.astype(np.float64))
    save_arrays(model_dir / MODEL_FILE, arrays, {"format": 1, "vectorizer": params,
                                                  "classes": [str(c) for c in clf.classes_]})
    shutil.copyfile(src, model_dir / INDEX_FILE)
    return len(answers)


class Kennisbank:
    def __init__(self, answers: list[Answer], municipality: Municipality, vectorizer: CompiledVectorizer,
                 W: np.ndarray, b: np.ndarray, classes: list[str], min_score: float | None = None):
        self.answers = {a.id: a for a in answers}
        self.municipality = municipality
        self.min_score = min_score if min_score is not None else municipality.routing.get("answer_min_score", 0.45)
        self.vectorizer = vectorizer
        self.W, self.b = W, b
        self.classes = list(classes)

    @classmethod
    def load(cls, model_dir: Path, municipality: Municipality) -> "Kennisbank":
        path = Path(model_dir) / INDEX_FILE
        model_path = Path(model_dir) / MODEL_FILE
        if not path.exists() or not model_path.with_suffix(".npz").exists():
            raise FileNotFoundError(path)
        arrays, meta = load_arrays(model_path)
        return cls(load_answers(path), municipality, vectorizer_from_arrays("vec", arrays, meta["vectorizer"]),
                   arrays["W"], arrays["b"], meta["classes"])

    def scores(self, norm: Normalized) -> dict[str, float]:
        """Probability per answer id (and "__none__")."""
        z = np.asarray(self.vectorizer.transform([norm.model_text]) @ self.W, dtype=np.float64) + self.b
        proba = softmax(z)[0]
        return dict(zip(self.classes, map(float, proba)))

    def best(self, norm: Normalized, crisis: bool = False) -> AnswerMatch | None:
        """The best fitting answer, or None when none fits. A crisis always
        gets the crisis answer."""
        if crisis and CRISIS_ANSWER_ID in self.answers:
            return AnswerMatch(CRISIS_ANSWER_ID, 1.0, self.answers[CRISIS_ANSWER_ID].title)
        if not norm.model_text.strip():
            return None
        scores = self.scores(norm)
        aid = max(scores, key=scores.get)
        if aid == NONE or scores[aid] < self.min_score or aid not in self.answers:
            return None
        return AnswerMatch(aid, scores[aid], self.answers[aid].title)

    def render(self, answer_id: str, lang: str = "nl") -> str:
        a = self.answers[answer_id]
        text = a.answer_en if lang == "en" and a.answer_en else a.answer
        values = self.municipality.placeholders()
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)



