"""The conversation engine by itself, turn by turn, with the real Triage
(shipped models). No network, no database: the actions are checked as the
caller would receive them."""

import dataclasses
import json
import logging

import pytest

from triage.conversation import (TEXTS, ConversationState, Engine, fill_case_number, parse_address, parse_contact,
                                 parse_name, parse_yes_no, valid_call_time)

NL, EN = TEXTS["nl"], TEXTS["en"]
SUPPORT = "Ik heb schulden en mijn zoon gaat niet meer naar school en ik ben zelf depressief. Ik wil graag hulp."
CRISIS = "ik zie het niet meer zitten, ik wil er een eind aan maken"
T0 = 1_800_000_000.0


@pytest.fixture(scope="module")
def engine(triage):
    return Engine(triage)


def q(key, lang="nl"):
    """The startformulier question as the engine renders it."""
    return TEXTS[lang][f"q_{key}"]


class Chat:
    """Drives one conversation; ``now`` advances one second a message."""

    def __init__(self, engine, channel="webchat", language=None, cid="chat-1"):
        self.engine = engine
        self.state, self.greeting = engine.start(cid, channel, language=language, now=T0)
        self.now = T0

    def say(self, text):
        self.now += 1
        self.state, replies, actions = self.engine.handle(self.state, text, now=self.now)
        return replies, actions


def types(actions):
    return [a["type"] for a in actions]


def crisis_numbers_in(text, m):
    v = m.placeholders()
    return all(n in text for n in (v["alarmnummer"], v["zelfmoordpreventie_telefoon"], v["veilig_thuis_telefoon"])) \
        and "113" in text and "Veilig Thuis" in text


def walk_form(chat, answers):
    out = []
    for a in answers:
        out.append(chat.say(a))
    return out


# ------------------------------------------------------------ greeting
def test_greeting_has_privacy_notice_emergency_number_and_english_hint(engine):
    chat = Chat(engine)
    assert len(chat.greeting) == 1
    g = chat.greeting[0]
    assert "Privacy" in g and "veilig" in g and "Den Helder" in g
    assert "112" in g and "stop" in g and "opnieuw" in g and "English" in g
    assert chat.state.step == "vraag" and chat.state.transcript == [("assistent", g)]
    st, [g_en] = engine.start("c2", "telegram", language="en-GB")
    assert st.language == "en" and "Privacy" in g_en and "Welcome" in g_en


# ------------------------------------------------------------ info question
def test_info_question_gets_the_standard_answer_at_once_and_is_asked_if_it_helped(engine, triage):
    chat = Chat(engine)
    replies, actions = chat.say("Hoe vraag ik huishoudelijke hulp aan?")
    assert replies == [triage.kennisbank.render("kb-wmo-huishoudelijke-hulp", "nl"), NL["answered_q"]]
    assert "Heeft dit uw vraag beantwoord?" in replies[-1]
    assert "14 0223" in replies[0] and "{" not in replies[0]
    assert types(actions) == ["answered"] and actions[0]["answer_id"] == "kb-wmo-huishoudelijke-hulp"
    assert chat.state.step == "na_antwoord"
    replies, actions = chat.say("ja hoor")
    assert replies == [NL["answered_yes"]]
    assert actions == [dict(actions[0], type="answer_feedback", answer_id="kb-wmo-huishoudelijke-hulp", helpful=True)]
    assert chat.state.step == "vraag" and chat.state.questions == []


def test_unhelpful_answer_offers_a_person_and_then_the_startformulier(engine):
    chat = Chat(engine)
    chat.say("Hoe vraag ik een paspoort aan?")
    replies, actions = chat.say("nee")
    assert replies == [NL["answered_no"]] and actions[0]["helpful"] is False
    replies, _ = chat.say("ja")
    assert replies == [NL["form_intro_kcc"], q("naam")]
    outs = walk_form(chat, ["Piet Jansen", "piet.jansen@example.nl", "1785 XK 4", "ja", "nee"])
    assert outs[1][0] == [q("adres")]  # e-mail only: no call time asked later
    summary = outs[-1][0][0]
    assert "Piet Jansen" in summary and "piet.jansen@example.nl" in summary and "(1 tot 5)" in summary
    replies, actions = chat.say("ja")
    [case] = actions
    assert case["type"] == "create_case" and case["route"] == "kcc_review" and case["category"] == "info_advies"
    assert case["fields"]["email"] == "piet.jansen@example.nl" and "telefoon" not in case["fields"]
    assert case["hulpvraag"] == "Hoe vraag ik een paspoort aan?"


def test_a_greeting_alone_asks_for_the_question_and_makes_no_case(engine):
    chat = Chat(engine)
    replies, actions = chat.say("hallo")
    assert replies == [NL["ask_question"]] and actions == [] and chat.state.step == "vraag"


# ------------------------------------------------------------ support need
def test_support_need_walks_the_startformulier_one_question_at_a_time(engine):
    chat = Chat(engine)
    replies, actions = chat.say(SUPPORT)
    assert replies == [NL["form_intro_support"], q("naam")] and actions == []
    assert chat.say("Jan de Vries") == ([q("contact")], [])
    # a phone that is no phone is asked again, with a short explanation
    replies, actions = chat.say("06-1234")
    assert replies == [NL["err_phone"] + "\n\n" + q("contact")] and actions == []
    assert chat.state.field == "contact" and chat.state.tries == 1
    assert chat.say("06-12345678") == ([q("adres")], [])
    assert chat.say("1781ab 12a") == ([q("toestemming_wijkteam")], [])
    replies, _ = chat.say("misschien")  # consent is never guessed
    assert replies == [NL["err_yes_no"] + "\n\n" + q("toestemming_wijkteam")]
    assert chat.say("ja hoor") == ([q("toestemming_derden")], [])
    assert chat.say("liever niet") == ([q("beltijd")], [])
    replies, actions = chat.say("'s ochtends")
    assert actions == [] and chat.state.step == "bevestigen"
    summary = replies[0]
    for line in ("1. Naam: Jan de Vries", "2. Telefoon: 0612345678", "3. Postcode en huisnummer: 1781 AB 12A",
                 "4. Bespreken in het wijkteam: ja", "5. Gegevens delen met andere organisaties: nee",
                 "6. Beste tijd om te bellen: 's ochtends"):
        assert line in summary
    replies, actions = chat.say("ja")
    [case] = actions
    assert case["type"] == "create_case" and case["conversation_id"] == "chat-1" and case["channel"] == "webchat"
    assert case["category"] == "meervoudig" and {"schulden", "jeugd"} <= set(case["domains"])
    assert case["route"] == "bureaudienst" and case["priority"] in ("normaal", "hoog")
    f = case["fields"]
    assert (f["naam"], f["telefoon"], f["postcode"], f["huisnummer"], f["beltijd"]) == (
        "Jan de Vries", "0612345678", "1781 AB", "12A", "'s ochtends")
    assert (f["toestemming_wijkteam"], f["toestemming_derden"], f["aanmelder"]) == ("ja", "nee", "inwoner")
    assert case["consent"] == "nee" and case["wijk"] == "Centrum"
    assert case["hulpvraag"] == SUPPORT and case["case_number"] is None
    assert replies == [NL["done"]] and "{case}" in replies[0]
    # the caller creates the case and fills in its number
    chat.state.set_case_number("SWT-2026-000042")
    assert "Uw zaaknummer is SWT-2026-000042." in fill_case_number(replies, "SWT-2026-000042")[0]
    assert chat.state.transcript[-1][1] == fill_case_number(replies, "SWT-2026-000042")[0]
    assert chat.state.step == "klaar"
    # a later message joins the case
    replies, actions = chat.say("Mijn dochter heeft ook problemen op school, ze wordt gepest en wil niet meer naar school.")
    assert types(actions) == ["add_message"] and actions[0]["case_number"] == "SWT-2026-000042"
    assert "SWT-2026-000042" in replies[0]


def test_optional_answer_moves_on_as_onbekend_after_three_failed_tries(engine):
    chat = Chat(engine)
    chat.say(SUPPORT)
    chat.say("Jan de Vries")
    chat.say("jan@example.nl")
    assert chat.say("ergens bij de haven")[0] == [NL["err_adres"] + "\n\n" + q("adres")]
    assert chat.say("1781 AB")[0] == [NL["err_huisnummer"] + "\n\n" + q("adres")]
    replies, _ = chat.say("weet niet precies")
    assert replies == [NL["gave_up"], q("toestemming_wijkteam")]
    assert chat.state.answers["adres"] == "onbekend"
    chat.say("ja")
    replies, _ = chat.say("ja")
    assert "3. Postcode en huisnummer: onbekend" in replies[0]
    _, [case] = chat.say("ja")
    assert "postcode" not in case["fields"] and case["consent"] == "ja"


def test_summary_number_changes_one_answer_and_returns_to_the_summary(engine):
    chat = Chat(engine)
    chat.say(SUPPORT)
    walk_form(chat, ["Jan de Vries", "jan@example.nl", "1781 AB 12", "ja", "ja"])
    assert chat.state.step == "bevestigen"
    assert chat.say("nee")[0] == [NL["summary_which"].format(n=5)]
    assert chat.say("2")[0] == [q("contact")]
    # a phone number now: the call time is asked before the summary returns
    assert chat.say("0223 123456")[0] == [q("beltijd")]
    replies, _ = chat.say("maakt niet uit")
    assert "2. Telefoon: 0223123456" in replies[0] and "6. Beste tijd om te bellen: maakt niet uit" in replies[0]
    _, [case] = chat.say("ja")
    assert case["fields"]["telefoon"] == "0223123456" and "email" not in case["fields"]


def test_a_question_during_the_form_is_answered_and_the_question_asked_again(engine, triage):
    chat = Chat(engine)
    chat.say(SUPPORT)
    replies, actions = chat.say("Wat gebeurt er met mijn gegevens?")
    assert replies == [triage.kennisbank.render("kb-privacy", "nl"), q("naam")]
    assert types(actions) == ["answered"] and chat.state.tries == 0 and chat.state.field == "naam"


# ------------------------------------------------------------ crisis
def test_crisis_in_the_third_message_while_answering_escalates_at_once(engine, triage):
    chat = Chat(engine)
    chat.say(SUPPORT)
    chat.say("Jan de Vries")
    assert chat.state.field == "contact"
    replies, actions = chat.say(CRISIS)  # third message, the answer to "how to reach you"
    assert crisis_numbers_in(replies[0], triage.municipality)
    assert replies[0] == triage.kennisbank.render("kb-crisis", "nl")
    assert replies[1].endswith(q("contact")) and "{case}" in replies[1]
    [esc] = actions
    assert esc["type"] == "escalate_crisis" and esc["priority"] == "spoed" and esc["route"] == "crisis"
    assert esc["fields"]["naam"] == "Jan de Vries" and CRISIS in esc["hulpvraag"]
    assert chat.state.crisis and chat.state.field == "contact" and chat.state.tries == 0
    chat.state.set_case_number("SWT-2026-000007")
    walk_form(chat, ["0612345678", "1781 AB 12", "ja", "ja", "middag"])
    replies, actions = chat.say("ja")
    [case] = actions
    assert case["type"] == "create_case" and case["case_number"] == "SWT-2026-000007"
    assert (case["category"], case["priority"], case["route"]) == ("crisis", "spoed", "crisis")
    assert "SWT-2026-000007" in replies[0]


def test_crisis_hidden_in_a_name_answer_is_caught(engine, triage):
    chat = Chat(engine)
    chat.say(SUPPORT)
    replies, actions = chat.say("Jan. Ik wil niet meer leven")
    assert types(actions) == ["escalate_crisis"] and crisis_numbers_in(replies[0], triage.municipality)
    assert chat.state.field == "naam" and "naam" not in chat.state.answers


def test_crisis_as_first_message_asks_how_to_reach_the_resident_first(engine, triage):
    chat = Chat(engine)
    replies, actions = chat.say("Mijn man slaat me en hij is nu thuis")
    assert crisis_numbers_in(replies[0], triage.municipality)
    assert replies[-1].endswith(q("contact")) and types(actions) == ["escalate_crisis"]
    assert "veiligheid" in actions[0]["domains"]
    assert chat.say("0612345678")[0] == [q("naam")]


@pytest.mark.parametrize("step_answers,answer", [
    ([], "1781"),
    (["Jan de Vries", "0612345678"], "ik woon op de Spoorstraat 12, 1781 AB"),
    (["Jan de Vries", "0612345678", "1781 AB 12", "ja", "ja"], "in the morning"),
    (["Jan de Vries", "0612345678", "1781 AB 12", "ja", "ja"], "na 3 uur"),
])
def test_short_form_answers_that_fool_the_model_do_not_raise_a_crisis(engine, step_answers, answer):
    chat = Chat(engine)
    chat.say(SUPPORT)
    walk_form(chat, step_answers)
    _, actions = chat.say(answer)
    assert "escalate_crisis" not in types(actions) and not chat.state.crisis


def test_crisis_after_the_case_was_made_raises_that_case(engine):
    chat = Chat(engine)
    chat.say(SUPPORT)
    walk_form(chat, ["Jan de Vries", "0612345678", "1781 AB 12", "ja", "ja", "ochtend", "ja"])
    chat.state.set_case_number("SWT-2026-000001")
    replies, actions = chat.say("hij slaat me weer, ik durf niet naar huis")
    assert types(actions) == ["escalate_crisis"] and actions[0]["case_number"] == "SWT-2026-000001"
    assert "SWT-2026-000001" in replies[1]


def test_crisis_numbers_come_from_configuration(triage):
    m = dataclasses.replace(triage.municipality, kcc_phone="14 0999",
                            national={**triage.municipality.national, "veilig_thuis_telefoon": "0800-2099"})
    eng = Engine(triage, m)
    chat = Chat(eng)
    replies, _ = chat.say(CRISIS)
    assert "0800-2099" in replies[0] and "0800-2000" not in replies[0] and crisis_numbers_in(replies[0], m)
    replies, _ = chat.say("stop")
    assert "14 0999" in replies[0] and "14 0223" not in replies[0]


# ------------------------------------------------------------ English
def test_english_resident_gets_english_replies_throughout(engine, triage):
    chat = Chat(engine)
    replies, _ = chat.say("Hello, I need help. I have big debts and I cannot pay the rent, and my son does not go "
                          "to school anymore.")
    assert chat.state.language == "en"
    if chat.state.step == "aanbod":
        assert replies == [EN["no_answer"]]
        replies, _ = chat.say("yes")
        assert replies == [EN["form_intro_kcc"], q("naam", "en")]
    else:
        assert replies == [EN["form_intro_support"], q("naam", "en")]
    assert chat.say("Sarah Johnson")[0] == [q("contact", "en")]
    assert chat.say("12 34")[0] == [EN["err_phone"] + "\n\n" + q("contact", "en")]
    assert chat.say("+31 6 12345678")[0] == [q("adres", "en")]
    assert chat.say("1782 BC 7")[0] == [q("toestemming_wijkteam", "en")]
    assert chat.say("yes")[0] == [q("toestemming_derden", "en")]
    assert chat.say("no")[0] == [q("beltijd", "en")]
    replies, _ = chat.say("in the morning")
    assert "1. Name: Sarah Johnson" in replies[0] and "Is this correct?" in replies[0]
    replies, [case] = chat.say("yes")
    assert replies == [EN["done"]] and case["language"] == "en" and case["fields"]["telefoon"] == "0612345678"
    assert chat.state.language == "en"
    replies, actions = chat.say("I want to kill myself")
    assert replies[0] == triage.kennisbank.render("kb-crisis", "en") and "Call 112" in replies[0]
    assert types(actions) == ["escalate_crisis"]


# ------------------------------------------------------------ commands
def test_stop_ends_and_tells_how_to_reach_the_kcc(engine):
    chat = Chat(engine)
    chat.say(SUPPORT)
    chat.say("Jan de Vries")
    replies, actions = chat.say("Stop")
    assert "14 0223" in replies[0] and "112" in replies[0] and NL["stop_no_case"].strip() in replies[0]
    assert types(actions) == ["end"] and chat.state.step == "gestopt"
    # writing again starts afresh, with the greeting
    replies, actions = chat.say("Hoe vraag ik een paspoort aan?")
    assert replies[0] == chat.greeting[0] and replies[-1] == NL["answered_q"]
    assert chat.state.answers == {} and types(actions) == ["answered"]


def test_stop_after_a_crisis_does_not_say_nothing_was_sent(engine):
    chat = Chat(engine)
    chat.say(CRISIS)
    replies, actions = chat.say("stop")
    assert NL["stop_no_case"].strip() not in replies[0] and NL["stop_crisis"].strip() in replies[0]
    assert actions[0]["case_created"] is True


def test_opnieuw_restarts_and_forgets_the_answers(engine):
    chat = Chat(engine)
    chat.say(SUPPORT)
    walk_form(chat, ["Jan de Vries", "0612345678"])
    replies, actions = chat.say("opnieuw")
    assert replies == [NL["restart"] + "\n\n" + NL["ask_question"]] and types(actions) == ["restart"]
    st = chat.state
    assert (st.step, st.field, st.answers, st.questions, st.need) == ("vraag", None, {}, [], {})
    replies, _ = chat.say(SUPPORT)
    assert replies == [NL["form_intro_support"], q("naam")]


# ------------------------------------------------------------ limits
class CountingTriage:
    def __init__(self, triage):
        self._t = triage
        self.municipality = triage.municipality
        self.kennisbank = triage.kennisbank
        self.calls = 0

    def classify(self, *args, **kwargs):
        self.calls += 1
        return self._t.classify(*args, **kwargs)


def test_messages_over_the_size_limit_are_refused_and_not_triaged(triage):
    spy = CountingTriage(triage)
    eng = Engine(spy, max_chars=4000)
    chat = Chat(eng)
    long_text = ("Ik heb een vraag over mijn situatie thuis. " * 200)[:4001]
    replies, actions = chat.say(long_text)
    assert spy.calls == 0
    assert "te lang" in replies[0] and "4001" in replies[0] and "4000" in replies[0] and "112" in replies[0]
    assert actions[0]["type"] == "refused" and actions[0]["reason"] == "too_long"
    assert chat.state.step == "vraag" and long_text not in json.dumps(chat.state.to_dict())
    chat.say(long_text[:4000])
    assert spy.calls == 1


def test_rate_limit_per_conversation_with_one_clear_reply(triage):
    spy = CountingTriage(triage)
    eng = Engine(spy, rate_limit=20, rate_window=60)
    state, _ = eng.start("flood", "telegram", now=T0)
    other, _ = eng.start("calm", "telegram", now=T0)
    for i in range(20):
        state, replies, _ = eng.handle(state, "hallo", now=T0 + i)
        assert replies == [NL["ask_question"]]
    state, replies, actions = eng.handle(state, "hallo", now=T0 + 20)
    assert len(replies) == 1 and replies[0].startswith("U stuurt veel berichten kort na elkaar") and "112" in replies[0]
    assert actions[0]["type"] == "refused" and actions[0]["reason"] == "rate_limited"
    rate_reply = replies[0]
    state, replies, actions = eng.handle(state, "hallo", now=T0 + 21)
    assert replies == [] and actions == []  # no reply storm
    assert spy.calls == 20
    # a crisis is never silent, not even in a flood
    state, replies, actions = eng.handle(state, CRISIS, now=T0 + 22)
    assert crisis_numbers_in(replies[0], triage.municipality) and types(actions) == ["escalate_crisis"]
    # another chat is not limited; this one recovers after the window
    other, replies, _ = eng.handle(other, "hallo", now=T0 + 22)
    assert replies == [NL["ask_question"]]
    calls = spy.calls
    state, replies, actions = eng.handle(state, "0612345678", now=T0 + 22 + 61)
    assert spy.calls == calls + 1 and rate_reply not in replies and "refused" not in types(actions)
    assert state.answers["telefoon"] == "0612345678"  # the crisis form goes on


# ------------------------------------------------------------ persistence
SCRIPT = [SUPPORT, "Jan de Vries", "06-1234", "0612345678", "1781 AB 12", "ja", CRISIS, "nee", "na 14.00 uur", "3",
          "1782 BC 7", "ja", "Hoe vraag ik een paspoort aan?", "nee", "stop"]


def run_script(triage, restart_between: bool):
    eng = Engine(triage)
    state, greeting = eng.start("tg:4242", "telegram", now=T0)
    turns = []
    for i, text in enumerate(SCRIPT):
        if restart_between:
            stored = json.dumps(state.to_dict(), ensure_ascii=False)  # what the store keeps
            eng = Engine(triage)  # a new process
            state = ConversationState.from_dict(json.loads(stored))
        state, replies, actions = eng.handle(state, text, now=T0 + 1 + i)
        turns.append((replies, actions))
    return greeting, turns, state.to_dict()


def test_state_round_trip_is_lossless_and_a_restart_resumes_the_conversation(triage):
    straight = run_script(triage, restart_between=False)
    restarted = run_script(triage, restart_between=True)
    assert restarted == straight
    _, turns, final = straight
    assert types(turns[6][1]) == ["escalate_crisis"]
    assert types(turns[11][1]) == ["create_case"] and turns[11][1][0]["fields"]["postcode"] == "1782 BC"
    assert final["step"] == "gestopt"


def test_restart_in_the_middle_of_the_startformulier(engine):
    chat = Chat(engine)
    chat.say(SUPPORT)
    walk_form(chat, ["Jan de Vries", "0612345678"])
    before = chat.state
    stored = json.dumps(before.to_dict())
    resumed = ConversationState.from_dict(json.loads(stored))
    assert resumed == before and resumed.transcript == before.transcript
    assert isinstance(resumed.transcript[0], tuple)
    state, replies, _ = Engine(engine.triage).handle(resumed, "1781 AB 12", now=chat.now + 1)
    assert replies == [q("toestemming_wijkteam")] and state.answers["telefoon"] == "0612345678"


def test_handle_leaves_the_given_state_unchanged(engine):
    chat = Chat(engine)
    chat.say(SUPPORT)
    before = chat.state.to_dict()
    engine.handle(chat.state, "Jan de Vries", now=chat.now + 1)
    assert chat.state.to_dict() == before


def test_unknown_state_version_is_refused(engine):
    d = Chat(engine).state.to_dict()
    d["version"] = 99
    with pytest.raises(ValueError):
        ConversationState.from_dict(d)


def test_no_personal_data_or_message_text_in_log_lines(engine, caplog):
    caplog.set_level(logging.DEBUG)
    chat = Chat(engine)
    chat.say(SUPPORT)
    walk_form(chat, ["Jan de Vries", "0612345678", "1781 AB 12", "ja", "ja", CRISIS, "ochtend", "ja"])
    chat.say("x" * 5000)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "escalated" in text  # something is logged ...
    for secret in ("Jan de Vries", "0612345678", "1781 AB", "schulden", "eind aan maken", "chat-1"):
        assert secret not in text  # ... but no personal data


# ------------------------------------------------------------ validators
@pytest.mark.parametrize("text,expected", [
    ("ja", "ja"), ("Ja hoor!", "ja"), ("dat mag", "ja"), ("prima", "ja"), ("geen probleem", "ja"), ("yes", "ja"),
    ("sure", "ja"), ("I don't mind", "ja"), ("👍", "ja"),
    ("nee", "nee"), ("liever niet", "nee"), ("dat mag niet", "nee"), ("nee hoor", "nee"), ("no", "nee"),
    ("no thanks", "nee"), ("rather not", "nee"),
    ("weet ik niet", None), ("misschien", None), ("ja maar liever niet", None), ("Jan", None), ("", None),
])
def test_parse_yes_no(text, expected):
    assert parse_yes_no(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("06-12345678", ({"telefoon": "0612345678"}, None)),
    ("+31 (0)6 1234 5678", ({"telefoon": "0612345678"}, None)),
    ("0223 123456", ({"telefoon": "0223123456"}, None)),
    ("Jan@Example.NL", ({"email": "jan@example.nl"}, None)),
    ("06 1234", (None, "err_phone")),
    ("0800-0113", (None, "err_phone")),  # a service number is no resident's number
    ("jan@example", (None, "err_email")),
    ("geen", ({}, None)),
    ("Kees", (None, "err_contact")),
])
def test_parse_contact(text, expected):
    assert parse_contact(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("1781 AB 12", {"postcode": "1781 AB", "huisnummer": "12"}),
    ("1781ab 12a", {"postcode": "1781 AB", "huisnummer": "12A"}),
    ("Spoorstraat 12-II, 1781 AB Den Helder", {"postcode": "1781 AB", "huisnummer": "12-II"}),
    ("1781 AB", None), ("Spoorstraat 12", None), ("1781 SS 3", None),
])
def test_parse_address(text, expected):
    assert parse_address(text)[0] == expected


def test_parse_name_and_call_time():
    assert parse_name("Ik heet Jan de Vries") == "Jan de Vries"
    assert parse_name("Mevrouw Anne-Marie van der Berg") == "Anne-Marie van der Berg"
    for not_a_name in ("0612345678", "ja", "ik ben bang", "waarom wilt u dat weten?", "x" * 90):
        assert parse_name(not_a_name) is None
    for ok in ("ochtend", "na 3 uur", "maakt niet uit", "in the morning", "dinsdag 14:00"):
        assert valid_call_time(ok) == ok
    assert valid_call_time("blauw") is None
