from triage.route import decide

T = {"auto_answer_min_confidence": 0.8, "review_below_confidence": 0.55, "auto_answer_max_crisis_probability": 0.1}


def case(**kw):
    base = {"category": "info_advies", "domains": [], "confidence": 0.9, "probabilities": {"crisis": 0.01},
            "answer_id": "kb-bijstand", "answer_score": 0.7}
    base.update(kw)
    return base


def test_crisis_always_crisis_whatever_the_confidence():
    for conf in (0.0, 0.3, 0.99):
        d = decide(case(category="crisis", confidence=conf, answer_id="kb-crisis"), T)
        assert d.route == "crisis" and d.priority == "spoed"


def test_auto_answer_needs_confidence_answer_and_low_crisis_probability():
    assert decide(case(), T).route == "auto_answer"
    assert decide(case(confidence=0.79), T).route == "kcc_review"
    assert decide(case(answer_id=None), T).route == "kcc_review"
    assert decide(case(probabilities={"crisis": 0.2}), T).route == "kcc_review"


def test_support_needs_go_to_bureaudienst_with_destination():
    d = decide(case(category="enkelvoudig", domains=["wmo"], confidence=0.9), T)
    assert (d.route, d.destination) == ("bureaudienst", "Zorgloket (Wmo)")
    d = decide(case(category="enkelvoudig", domains=["werk_inkomen"], confidence=0.9), T)
    assert d.destination == "Loket Werk en Inkomen"
    d = decide(case(category="meervoudig", domains=["schulden", "jeugd"], confidence=0.9), T)
    assert d.destination == "Sociaal Wijkteam" and d.priority == "normaal"
    d = decide(case(category="enkelvoudig", domains=["wonen"], confidence=0.9), T)
    assert d.priority == "hoog"
    assert decide(case(category="meervoudig", domains=["ggz", "wmo"], confidence=0.4), T).route == "kcc_review"


def test_no_support_need_is_ever_auto_answered():
    for cat in ("enkelvoudig", "meervoudig"):
        assert decide(case(category=cat, domains=["wmo"], confidence=1.0), T).route != "auto_answer"


def test_no_crisis_message_in_the_corpus_is_auto_answered(triage, corpus):
    from triage.pipeline import Message

    crisis = [r for r in corpus if r.category == "crisis"]
    assert len(crisis) > 300
    results = triage.classify_many([Message(r.text, r.channel, r.subject, r.id) for r in crisis])
    auto = [r.id for r, res in zip(crisis, results) if res.route == "auto_answer"]
    assert auto == []
