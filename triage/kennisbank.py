"""The kennisbank: standard answers and retrieval with a score.

Each answer has example questions. A message is compared (TF-IDF over word
and character n-grams, cosine) with every example and title; an answer's
score is its best match. Below the configured minimum the result is an
explicit "no answer fits" (None). Answer texts hold {placeholders} that are
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


def build_index(kennisbank_dir: Path, model_dir: Path) -> int:
    """Copy the answers into the model folder, so the product needs only
    models/ at run time. Returns the number of answers."""
    src = kennisbank_dir / "answers.jsonl"
    answers = load_answers(src)  # validates
    shutil.copyfile(src, model_dir / INDEX_FILE)
    return len(answers)


class Kennisbank:
    def __init__(self, answers: list[Answer], municipality: Municipality, min_score: float | None = None):
        self.answers = {a.id: a for a in answers}
        self.municipality = municipality
        self.min_score = min_score if min_score is not None else municipality.routing.get("answer_min_score", 0.45)
        docs, owners = [], []
        for a in answers:
            for text in (a.title, *a.examples):
                docs.append(normalize(text).model_text)
                owners.append(a.id)
        self.owners = np.array(owners)
        self.vectorizer = FeatureUnion([
            ("w", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w[\w']*\b")),
            ("c", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)),
        ])
        m = self.vectorizer.fit_transform(docs)
        self.matrix = _l2(m)

    @classmethod
    def load(cls, model_dir: Path, municipality: Municipality) -> "Kennisbank":
        path = Path(model_dir) / INDEX_FILE
        if not path.exists():
            raise FileNotFoundError(path)
        return cls(load_answers(path), municipality)

    def scores(self, norm: Normalized) -> dict[str, float]:
        q = _l2(self.vectorizer.transform([norm.model_text]))
        sims = (self.matrix @ q.T).toarray().ravel()
        best: dict[str, float] = {}
        for owner, s in zip(self.owners, sims):
            if s > best.get(owner, -1.0):
                best[owner] = float(s)
        return best

    def best(self, norm: Normalized, crisis: bool = False) -> AnswerMatch | None:
        """The best fitting answer, or None when none fits. A crisis always
        gets the crisis answer."""
        if crisis and CRISIS_ANSWER_ID in self.answers:
            return AnswerMatch(CRISIS_ANSWER_ID, 1.0, self.answers[CRISIS_ANSWER_ID].title)
        if not norm.model_text.strip():
            return None
        scores = self.scores(norm)
        scores.pop(CRISIS_ANSWER_ID, None)  # the crisis answer only through the crisis decision
        if not scores:
            return None
        aid = max(scores, key=scores.get)
        if scores[aid] < self.min_score:
            return None
        return AnswerMatch(aid, scores[aid], self.answers[aid].title)

    def render(self, answer_id: str, lang: str = "nl") -> str:
        a = self.answers[answer_id]
        text = a.answer_en if lang == "en" and a.answer_en else a.answer
        values = self.municipality.placeholders()
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _l2(m):
    from sklearn.preprocessing import normalize as l2

    return l2(m.tocsr())

