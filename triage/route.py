"""The routing decision: one route per message, with reasons.

Rules work on a plain dict (category, domains, confidence, probabilities,
answer_id, answer_score), so they can be tested with dicts:

- crisis: always route ``crisis``; top of the bureaudienst queue. No
  threshold can turn a crisis into anything else.
- auto_answer: only info_advies, confidence >= auto_answer_min_confidence,
  a standard answer scoring >= auto_answer_min_answer_score, and little
  chance of crisis.
- bureaudienst: enkelvoudig and meervoudig with confidence >=
  review_below_confidence; single Wmo need to the Zorgloket, single
  werk_inkomen need to the loket Werk en Inkomen, otherwise the wijkteam.
- kcc_review: everything else (uncertain).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import Municipality

__all__ = ["Decision", "Router", "decide", "ROUTES"]

ROUTES = ("crisis", "auto_answer", "bureaudienst", "kcc_review")
DEFAULTS = {"auto_answer_min_confidence": 0.80, "answer_min_score": 0.20, "auto_answer_min_answer_score": 0.50,
            "review_below_confidence": 0.55, "auto_answer_max_crisis_probability": 0.10}
URGENT_DOMAINS = {"veiligheid", "wonen"}


@dataclass(frozen=True)
class Decision:
    route: str
    priority: str | None = None  # spoed | hoog | normaal
    destination: str | None = None
    reasons: list[str] = field(default_factory=list)


def decide(case: dict, thresholds: dict | None = None, destinations: dict | None = None) -> Decision:
    t = {**DEFAULTS, **(thresholds or {})}
    dest = {"wmo": "Zorgloket (Wmo)", "werk_inkomen": "Loket Werk en Inkomen", "default": "Sociaal Wijkteam",
            **(destinations or {})}
    category = case["category"]
    confidence = float(case.get("confidence") or 0.0)
    domains = list(case.get("domains") or [])
    if category == "crisis":
        return Decision("crisis", "spoed", "Bureaudienst (crisis)",
                        ["crisis: crisisnummers direct naar inwoner, bovenaan de wachtrij van de bureaudienst"])
    if category == "info_advies":
        answer_id = case.get("answer_id")
        p_crisis = float((case.get("probabilities") or {}).get("crisis", 0.0))
        if answer_id is None:
            return Decision("kcc_review", None, "KCC", ["info_advies zonder passend standaardantwoord"])
        if confidence < t["auto_answer_min_confidence"]:
            return Decision("kcc_review", None, "KCC",
                            [f"zekerheid {confidence:.2f} onder drempel {t['auto_answer_min_confidence']:.2f} voor automatisch antwoord"])
        score = float(case.get("answer_score") or 0.0)
        if score < t["auto_answer_min_answer_score"]:
            return Decision("kcc_review", None, "KCC",
                            [f"standaardantwoord {answer_id} past niet zeker genoeg ({score:.2f}): KCC kijkt mee"])
        if p_crisis > t["auto_answer_max_crisis_probability"]:
            return Decision("kcc_review", None, "KCC", [f"kans op crisis {p_crisis:.2f}: een mens kijkt mee"])
        return Decision("auto_answer", None, None, [f"standaardantwoord {answer_id} (score {float(case.get('answer_score') or 0):.2f})"])
    # enkelvoudig / meervoudig: a support need
    if confidence < t["review_below_confidence"]:
        return Decision("kcc_review", None, "KCC",
                        [f"zekerheid {confidence:.2f} onder {t['review_below_confidence']:.2f}: KCC controleert eerst"])
    if category == "enkelvoudig" and len(domains) == 1 and domains[0] in ("wmo", "werk_inkomen"):
        destination = dest[domains[0]]
    else:
        destination = dest["default"]
    priority = "hoog" if (URGENT_DOMAINS & set(domains)) or category == "meervoudig" and len(domains) >= 3 else "normaal"
    return Decision("bureaudienst", priority, destination, [f"{category}: hulpvraag naar {destination}, prioriteit {priority}"])


class Router:
    def __init__(self, municipality: Municipality):
        self.thresholds = dict(municipality.routing)
        self.destinations = dict(municipality.destinations)

    def decide(self, result) -> Decision:
        case = {
            "category": result.category, "domains": result.domains, "confidence": result.confidence,
            "probabilities": result.probabilities, "answer_id": result.answer_id, "answer_score": result.answer_score,
        }
        return decide(case, self.thresholds, self.destinations)
