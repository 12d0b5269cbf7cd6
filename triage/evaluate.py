"""`triage evaluate`: measure the models on labelled data (by default the
held-out split) and write models/MODEL_CARD.md with the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from .dataset import CATEGORIES, DOMAINS, Record
from .pipeline import Message, Triage

__all__ = ["Evaluation", "evaluate_records", "format_report", "write_model_card"]


@dataclass
class Evaluation:
    n: int
    per_class: dict  # category -> (precision, recall, f1, support)
    macro_f1: float
    accuracy: float
    confusion: list[list[int]]  # rows: true, cols: predicted, CATEGORIES order
    crisis_recall: float
    crisis_precision: float
    domain_micro_f1: float
    domain_per_label: dict  # domain -> (precision, recall, f1, support)
    field_scores: dict | None = None
    routes: dict | None = None
    crisis_auto_answered: int = 0

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def evaluate_records(triage: Triage, records: list[Record]) -> Evaluation:
    results = triage.classify_many([Message(r.text, r.channel, r.subject, r.id) for r in records])
    k = len(CATEGORIES)
    conf = np.zeros((k, k), dtype=int)
    for r, res in zip(records, results):
        conf[CATEGORIES.index(r.category), CATEGORIES.index(res.category)] += 1
    per_class = {}
    for i, c in enumerate(CATEGORIES):
        tp = conf[i, i]
        p, rc, f = _prf(tp, conf[:, i].sum() - tp, conf[i, :].sum() - tp)
        per_class[c] = (p, rc, f, int(conf[i, :].sum()))
    macro = float(np.mean([v[2] for v in per_class.values()]))
    dom_tp = dom_fp = dom_fn = 0
    per_dom = {}
    for d in DOMAINS:
        tp = sum(1 for r, s in zip(records, results) if d in r.domains and d in s.domains)
        fp = sum(1 for r, s in zip(records, results) if d not in r.domains and d in s.domains)
        fn = sum(1 for r, s in zip(records, results) if d in r.domains and d not in s.domains)
        dom_tp, dom_fp, dom_fn = dom_tp + tp, dom_fp + fp, dom_fn + fn
        p, rc, f = _prf(tp, fp, fn)
        per_dom[d] = (p, rc, f, tp + fn)
    crisis = per_class["crisis"]
    field_scores = _field_scores(records, results) if any(r.fields for r in records) and triage.extractor else None
    routes: dict[str, int] = {}
    for res in results:
        routes[str(res.route)] = routes.get(str(res.route), 0) + 1
    crisis_auto = sum(1 for r, s in zip(records, results) if r.category == "crisis" and s.route == "auto_answer")
    return Evaluation(
        n=len(records), per_class=per_class, macro_f1=macro, accuracy=float(np.trace(conf) / max(1, conf.sum())),
        confusion=conf.tolist(), crisis_recall=crisis[1], crisis_precision=crisis[0],
        domain_micro_f1=_prf(dom_tp, dom_fp, dom_fn)[2], domain_per_label=per_dom,
        field_scores=field_scores, routes=routes, crisis_auto_answered=crisis_auto,
    )


EXACT_FIELDS = ("telefoon", "email", "postcode", "bsn")


def _field_scores(records: list[Record], results) -> dict:
    """Micro-F1 over (field, value) pairs, exact-match rate per field, and
    consent accuracy where the text states consent."""
    tp = fp = fn = 0
    per_field: dict[str, list[int]] = {}
    for r, s in zip(records, results):
        gold = {k: v for k, v in r.fields.items()}
        pred = s.fields or {}
        for key in set(gold) | set(pred):
            g, p = gold.get(key), pred.get(key)
            stats = per_field.setdefault(key, [0, 0, 0])  # tp, fp, fn
            if g is not None and p is not None and _same(key, g, p):
                tp += 1
                stats[0] += 1
            else:
                if p is not None:
                    fp += 1
                    stats[1] += 1
                if g is not None:
                    fn += 1
                    stats[2] += 1
    stated = [(r.consent, s.consent) for r, s in zip(records, results) if r.consent != "onbekend"]
    ja_wrong = sum(1 for r, s in zip(records, results) if s.consent == "ja" and r.consent != "ja")
    out = {
        "micro_f1": _prf(tp, fp, fn)[2],
        "per_field": {k: dict(zip(("precision", "recall", "f1"), _prf(*v)), support=v[0] + v[2])
                      for k, v in sorted(per_field.items())},
        "consent_stated": len(stated),
        "consent_stated_right": (sum(1 for g, p in stated if g == p) / len(stated)) if stated else None,
        "consent_ja_without_words": ja_wrong,
    }
    for key in EXACT_FIELDS:
        golds = [(r.fields[key], (s.fields or {}).get(key)) for r, s in zip(records, results) if key in r.fields]
        out[f"{key}_exact"] = (sum(1 for g, p in golds if p == g) / len(golds)) if golds else None
    return out


def _same(key: str, gold, pred) -> bool:
    if isinstance(gold, str) and isinstance(pred, str):
        return gold.strip().lower() == pred.strip().lower()
    return gold == pred


def format_report(ev: Evaluation, title: str = "held-out split") -> str:
    lines = [f"Evaluation on {title}: {ev.n} messages", ""]
    lines.append(f"{'category':<14}{'precision':>10}{'recall':>10}{'f1':>8}{'support':>9}")
    for c, (p, r, f, s) in ev.per_class.items():
        lines.append(f"{c:<14}{p:>10.3f}{r:>10.3f}{f:>8.3f}{s:>9d}")
    lines.append(f"{'macro-F1':<14}{'':>20}{ev.macro_f1:>8.3f}")
    lines.append(f"accuracy {ev.accuracy:.3f}")
    lines.append("")
    lines.append("confusion matrix (rows: true, columns: predicted)")
    abbrev = [c[:11] for c in CATEGORIES]
    lines.append(" " * 14 + "".join(f"{a:>12}" for a in abbrev))
    for c, row in zip(CATEGORIES, ev.confusion):
        lines.append(f"{c:<14}" + "".join(f"{v:>12d}" for v in row))
    lines.append("")
    lines.append(f"crisis recall {ev.crisis_recall:.3f}, crisis precision {ev.crisis_precision:.3f}")
    lines.append(f"domain micro-F1 {ev.domain_micro_f1:.3f}")
    lines.append(f"{'domain':<14}{'precision':>10}{'recall':>10}{'f1':>8}{'support':>9}")
    for d, (p, r, f, s) in ev.domain_per_label.items():
        lines.append(f"{d:<14}{p:>10.3f}{r:>10.3f}{f:>8.3f}{s:>9d}")
    if ev.field_scores:
        fs = ev.field_scores
        lines.append("")
        lines.append(f"startformulier field micro-F1 {fs['micro_f1']:.3f}")
        for key in EXACT_FIELDS:
            v = fs.get(f"{key}_exact")
            lines.append(f"  {key} exact match: " + ("n/a" if v is None else f"{v:.3f}"))
        for k, v in fs["per_field"].items():
            lines.append(f"  {k:<22} P {v['precision']:.3f}  R {v['recall']:.3f}  F1 {v['f1']:.3f}  (n={v['support']})")
        right = fs["consent_stated_right"]
        lines.append("consent read right where stated: " + ("n/a" if right is None else f"{right:.3f}") +
                     f" (n={fs['consent_stated']}); 'ja' without words: {fs['consent_ja_without_words']}")
    if ev.routes:
        lines.append("")
        lines.append("routes: " + ", ".join(f"{k}={v}" for k, v in sorted(ev.routes.items())))
        lines.append(f"crisis messages routed to auto_answer: {ev.crisis_auto_answered}")
    return "\n".join(lines)


def write_model_card(path: Path, report: str, manifest: dict, thresholds: dict) -> None:
    """The model card, shaped for the Dutch algorithm register."""
    text = f"""# Model card: KCC front-door triage (Sociaal Wijkteam)

Generated by `triage evaluate` on {date.today().isoformat()}. Do not edit by
hand: rebuild with `triage train && triage evaluate`.

## Doel (purpose)

Helps KCC agents and the bureaudienst of the Sociaal Wijkteam sort incoming
questions (mail, chat, phone notes, partner referrals): category
(info_advies, enkelvoudig, meervoudig, crisis), life domains, a standard
answer where information is enough, and a suggested route. It **suggests**;
people decide. It does not decide on any voorziening, indication or benefit.

## Data

- Training data: {manifest.get('n_train', '?')} hand-written, labelled
  messages (training split of {manifest.get('n_messages', '?')}); a fixed
  held-out split of {manifest.get('n_heldout', '?')} messages is never used
  for training. Corpus hash {manifest.get('corpus_sha256_16', '?')}.
- Labels follow the project's labeling guide. See training_data/README.md
  for counts per label, channel and domain, how the data was written and
  known gaps. The messages are written for this purpose; they contain no
  real residents' data.
- Trained on {manifest.get('trained_on', '?')} in {manifest.get('train_seconds', '?')} s.

## Werking (how it works)

1. Normalization: quoted earlier mail and signatures are split off; phone
   numbers, e-mail addresses, dates, postcodes and numbers are masked.
2. Crisis safeguard: Dutch and English rules for acute danger (suicidal
   wording, violence now, a child unsafe, on the street tonight, a
   vulnerable person without care, dangerous behaviour), with negation,
   past tense and "what if" questions handled. A rule hit always makes the
   category crisis; the model cannot overrule it.
3. Models (scikit-learn, logistic regression on word and character n-grams):
   one per life domain, and a calibrated category model that also sees the
   domain scores. Crisis is also chosen when the model's crisis probability
   is at least {thresholds.get('crisis_threshold', '?')}.
4. Reasons: the rule that fired, the words that weighed most, the domains
   with their scores. They are shown with every suggestion.

## Menselijk toezicht (human oversight)

- Crisis: always goes to a person (top of the bureaudienst queue) and the
  resident gets the crisis numbers at once.
- Automatic answers only for info_advies with confidence >= the configured
  threshold and a fitting standard answer; everything else is reviewed by a
  KCC agent or queued for the bureaudienst, and everything is logged.
- Every correction by an agent is stored and feeds the next training run.

## Risico's (risks) and limits

- Written (synthetic) training data: real residents' words may differ; the
  figures below are on held-out messages written the same way, so expect
  lower figures on real mail. Monitor agreement of agents in the console.
- Errors that matter most: a missed crisis (mitigated by high-recall rules
  and by people reading every non-automatic message) and a support need
  answered with information only (mitigated by the auto-answer threshold).
- Languages: Dutch, some English; other languages are not supported and get
  low confidence, hence review by a person.

## Gemeten prestaties (measured figures)

```
{report}
```
"""
    path.write_text(text, encoding="utf-8")
