import re

from triage.kennisbank import detect_language
from triage.normalize import normalize


def test_every_answer_renders_without_placeholders(triage):
    kb = triage.kennisbank
    assert len(kb.answers) >= 30
    for aid in kb.answers:
        for lang in ("nl", "en"):
            text = kb.render(aid, lang)
            assert not re.search(r"\{\w+\}", text), (aid, lang)


def test_crisis_answer_has_the_crisis_numbers_from_configuration(triage):
    text = triage.kennisbank.render("kb-crisis")
    nat = triage.municipality.national
    for key in ("alarmnummer", "zelfmoordpreventie_telefoon", "veilig_thuis_telefoon"):
        assert nat[key] in text


def test_numbers_come_from_configuration(triage):
    from dataclasses import replace

    kb = triage.kennisbank
    other = replace(triage.municipality, kcc_phone="14 0999")
    old = kb.municipality
    try:
        kb.municipality = other
        rendered = " ".join(kb.render(a) for a in kb.answers)
        assert "14 0999" in rendered and "14 0223" not in rendered
    finally:
        kb.municipality = old


def test_no_answer_fits_for_unrelated_text(triage):
    assert triage.kennisbank.best(normalize("xq zzv plof brrr")) is None
    assert triage.kennisbank.best(normalize("")) is None


def test_information_question_gets_an_answer(triage):
    res = triage.classify("Hoe kan ik grofvuil laten ophalen? Ik heb een oude bank.", channel="chat")
    assert res.category == "info_advies"
    assert res.answer_id == "kb-afval-grofvuil"


def test_language_detection():
    assert detect_language("Hello, how can I apply for help with my debts?") == "en"
    assert detect_language("Hoe vraag ik hulp aan bij mijn schulden?") == "nl"
