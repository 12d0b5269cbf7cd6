import pytest

from triage.crisis import detect

ACUTE = [
    "ik zie het niet meer zitten",
    "Het hoeft voor mij niet meer.",
    "ik heb de pillen al klaarliggen",
    "ik ben iedereen alleen maar tot last",
    "Morgen ben ik er niet meer.",
    "hij staat nu voor de deur te bonken en te schreeuwen",
    "Mijn man slaat me en ik durf niet naar huis",
    "we worden morgen uit huis gezet",
    "waar moeten wij vannacht slapen met de kinderen",
    "mn ex appte net dat hij me gaat afmaken",
    "ze hebben net de stroom afgesloten en mijn moeder ligt aan de zuurstof, het apparaat doet het niet",
    "I don't want to live anymore",
    "my husband is hitting me right now",
    "we have nowhere to sleep tonight",
]
NOT_ACUTE = [
    "ik denk niet aan zelfmoord, maar ik heb wel hulp nodig met mijn schulden",
    "Vorig jaar wilde ik er een eind aan maken, nu gaat het beter maar ik wil hulp bij mijn schulden",
    "ik word gek van die wachtlijst",
    "ik ga dood van de stress van die belastingdienst",
    "wat moet ik doen als mijn buurman weer gaat slaan?",
    "Voor mijn spreekbeurt: wat doet 113 als iemand zelfmoord wil plegen?",
    "ik ben niet suïcidaal maar wel erg somber",
    "Mijn man heeft mij nooit geslagen, daar gaat het niet om.",
    "Hij heeft haar vorige maand geslagen, nu zit hij vast. Geen acuut gevaar.",
    "Hoe vraag ik huishoudelijke hulp aan?",
]


@pytest.mark.parametrize("text", ACUTE)
def test_acute_wording_is_detected(text):
    assert detect(text), text


@pytest.mark.parametrize("text", NOT_ACUTE)
def test_negation_past_hypothetical_and_figures_are_not(text):
    assert not detect(text), [h.rule for h in detect(text)]


def test_hit_names_rule_kind_and_words():
    hit = detect("Ik heb afscheidsbrieven geschreven.")[0]
    assert hit.kind == "suicide" and "afscheidsbrie" in hit.text


def test_crisis_rule_cannot_be_overruled_by_the_model(triage):
    # the words are mild, the rule fires: the category must be crisis
    res = triage.classify("Dag. Ik heb vanavond de strips bij elkaar gelegd. Groet", channel="email")
    assert res.category == "crisis"
    assert res.route == "crisis"
    assert any(r.startswith("crisisregel") for r in res.reasons)


def test_quoted_crisis_words_do_not_make_a_crisis(triage):
    text = ("Dank u wel, de huishoudelijke hulp is geregeld.\n\nOp 3 nov. 2026 schreef Sociaal Wijkteam "
            "<sociaalwijkteam@denhelder.nl>:\n> ik wil er een eind aan maken")
    assert triage.classify(text).category != "crisis"
