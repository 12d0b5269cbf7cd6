"""One entry point for the triage logic: text in, decision out.

normalize -> crisis detector + classifier -> extraction -> answer -> route.
Pure logic: no network, no database. Load once, call many times.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import crisis as crisis_mod
from .config import Municipality, get_settings, load_municipality
from .dataset import CATEGORIES, DOMAINS, canonical_channel
from .model import TextModels, decide, model_input
from .normalize import Normalized, normalize

__all__ = ["Triage", "TriageResult", "Message"]

# Which domain a crisis rule's kind points to (labeling guide).
CRISIS_KIND_DOMAIN = {
    "suicide": "ggz", "violence": "veiligheid", "child": "veiligheid",
    "homeless": "wonen", "care": "wmo", "danger": "ggz",
}


@dataclass(frozen=True)
class Message:
    text: str
    channel: str = "email"
    subject: str | None = None
    id: str | None = None


@dataclass
class TriageResult:
    id: str | None
    category: str
    domains: list[str]
    confidence: float
    fields: dict = field(default_factory=dict)
    consent: str = "onbekend"
    route: str | None = None
    answer_id: str | None = None
    reasons: list[str] = field(default_factory=list)
    # not part of the JSONL contract, for the console and the CLI
    probabilities: dict = field(default_factory=dict)
    domain_scores: dict = field(default_factory=dict)
    evidence: dict = field(default_factory=dict)
    answer_score: float | None = None
    priority: str | None = None
    destination: str | None = None
    wijk: str | None = None

    CONTRACT_KEYS = ("id", "category", "domains", "confidence", "fields", "consent", "route", "answer_id", "reasons")

    def contract(self) -> dict:
        """The JSON object of the `triage classify --jsonl` contract."""
        d = asdict(self)
        return {k: d[k] for k in self.CONTRACT_KEYS}

    def full(self) -> dict:
        return asdict(self)


class Triage:
    """Loads the models once; :meth:`classify` and :meth:`classify_many`
    are then pure functions of their input."""

    def __init__(self, model_dir: Path | str | None = None, municipality: Municipality | None = None):
        settings = get_settings()
        self.model_dir = Path(model_dir) if model_dir else settings.model_dir
        self.max_chars = settings.max_text_chars
        self.municipality = municipality or load_municipality(settings.municipality_file)
        t0 = time.perf_counter()
        self.models = TextModels.load(self.model_dir)
        self.extractor = None
        self.kennisbank = None
        self.router = None
        try:
            from .extract import Extractor
            self.extractor = Extractor(self.municipality)
        except ImportError:  # pragma: no cover - optional until extraction lands
            pass
        try:
            from .kennisbank import Kennisbank
            self.kennisbank = Kennisbank.load(self.model_dir, self.municipality)
        except (ImportError, FileNotFoundError):
            pass
        try:
            from .route import Router
            self.router = Router(self.municipality)
        except ImportError:  # pragma: no cover
            pass
        self.load_seconds = time.perf_counter() - t0

    # ------------------------------------------------------------------
    def classify(self, text: str, channel: str = "email", subject: str | None = None, id: str | None = None) -> TriageResult:
        return self.classify_many([Message(text=text, channel=channel, subject=subject, id=id)])[0]

    def classify_many(self, messages: list[Message]) -> list[TriageResult]:
        if not messages:
            return []
        norms: list[Normalized] = []
        channels: list[str] = []
        for m in messages:
            channels.append(canonical_channel(m.channel))
            norms.append(normalize(m.text or "", m.subject, self.max_chars))
        inputs = [model_input(ch, n.model_text) for ch, n in zip(channels, norms)]
        hits = [crisis_mod.detect((n.subject + "\n" if n.subject else "") + n.body) for n in norms]
        flags = np.array([bool(h) for h in hits])
        cat_p, dom_p, X, aux = self.models.predict(inputs, flags)
        cats = decide(cat_p, flags, self.models.crisis_threshold)
        results = []
        for i, m in enumerate(messages):
            extra = {k: v[i] for k, v in aux.items()}
            results.append(self._one(m, channels[i], norms[i], cat_p[i], dom_p[i], X[i], int(cats[i]), hits[i], extra))
        return results

    # ------------------------------------------------------------------
    def _one(self, msg: Message, channel: str, norm: Normalized, cat_p, dom_p, x_row, cat_idx: int,
             hits: list[crisis_mod.CrisisHit], aux: dict) -> TriageResult:
        category = CATEGORIES[cat_idx]
        thr = self.models.domain_thresholds
        domains = [d for j, d in enumerate(DOMAINS) if dom_p[j] >= thr[j]]
        order = [DOMAINS[j] for j in np.argsort(-dom_p)]
        reasons: list[str] = []
        if hits:
            for h in hits[:3]:
                reasons.append(f"crisisregel {h.rule}: \"{h.text}\"")
                dom = CRISIS_KIND_DOMAIN.get(h.kind)
                if dom and dom not in domains:
                    domains.append(dom)
        elif category == "crisis":
            reasons.append(f"model: kans op crisis {cat_p[CATEGORIES.index('crisis')]:.2f}")
        # keep category and domains consistent with the labeling guide
        if category == "meervoudig":
            for d in order:
                if len(domains) >= 2:
                    break
                if d not in domains:
                    domains.append(d)
        elif category == "enkelvoudig":
            if not domains:
                domains = [order[0]]
            elif len(domains) > 1:
                domains = [max(domains, key=lambda d: dom_p[DOMAINS.index(d)])]
        domains = [d for d in DOMAINS if d in domains]
        confidence = float(cat_p[cat_idx])
        if category == "crisis" and hits:
            confidence = max(confidence, 0.95)
        terms = self.models.top_terms(x_row, cat_idx)
        if terms:
            reasons.append("woorden: " + ", ".join(terms))
        if domains:
            reasons.append("domeinen: " + ", ".join(f"{d} ({dom_p[DOMAINS.index(d)]:.2f})" for d in domains))
        if not norm.body.strip():
            reasons.append("lege tekst")
        result = TriageResult(
            id=msg.id, category=category, domains=domains, confidence=round(confidence, 4), reasons=reasons,
            probabilities={c: round(float(p), 4) for c, p in zip(CATEGORIES, cat_p)},
            domain_scores={d: round(float(p), 4) for d, p in zip(DOMAINS, dom_p)},
        )
        if self.extractor is not None:
            ext = self.extractor.extract(norm, channel, aanmelder=aux.get("aanmelder"),
                                         kinderen_p=aux.get("kinderen"))
            result.fields = ext.fields
            result.consent = ext.consent
            result.evidence = ext.evidence
            result.wijk = self.municipality.wijk_for_postcode(ext.fields.get("postcode"))
        if self.kennisbank is not None and category in ("info_advies", "crisis"):
            # a standard answer is the response only to a question for information
            # (or the crisis answer); a support need goes to a person instead
            match = self.kennisbank.best(norm, crisis=category == "crisis")
            if match is not None:
                result.answer_id, result.answer_score = match.answer_id, round(match.score, 4)
        if self.router is not None:
            decision = self.router.decide(result)
            result.route, result.priority, result.destination = decision.route, decision.priority, decision.destination
            result.reasons.extend(decision.reasons)
        return result
