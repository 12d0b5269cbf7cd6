from triage.normalize import mask, normalize


def test_gmail_quote_is_split_off_and_does_not_reach_the_model():
    text = ("Dank u wel, het is geregeld.\n\nOp 3 nov. 2026 om 14:02 schreef Sociaal Wijkteam "
            "<sociaalwijkteam@denhelder.nl>:\n> Ik wil er een eind aan maken\n> groet")
    n = normalize(text)
    assert n.body == "Dank u wel, het is geregeld."
    assert "eind aan maken" in n.quoted
    assert "eind" not in n.model_text


def test_outlook_block_and_angle_quotes():
    text = ("Nog steeds niks gehoord.\n\nVan: Sociaal Wijkteam\nVerzonden: maandag 2 november 2026\n"
            "Aan: Jan\nOnderwerp: uw vraag\n\nBeste Jan, wij bellen u.")
    assert normalize(text).body == "Nog steeds niks gehoord."
    n = normalize("> oude tekst\nnieuwe vraag over bijstand")
    assert n.body == "nieuwe vraag over bijstand" and "oude tekst" in n.quoted


def test_forward_with_empty_new_text_keeps_forwarded_content():
    text = ("Zie hieronder.\n\n---------- Doorgestuurd bericht ---------\nVan: Jan <j@x.nl>\n"
            "Datum: 10 nov\nOnderwerp: traplift\n\nIk kom de trap niet meer op.")
    n = normalize(text)
    assert "trap niet meer op" in n.body


def test_signature_split_keeps_details_for_extraction():
    text = "Ik wil huishoudelijke hulp aanvragen.\n\nMet vriendelijke groet,\nAnna de Vries\n06-12345678"
    n = normalize(text)
    assert n.body == "Ik wil huishoudelijke hulp aanvragen."
    assert "Anna de Vries" in n.signature and "06-12345678" in n.signature
    assert "anna" not in n.model_text


def test_inline_sign_off_and_name_only_last_line():
    assert normalize("Kan dat? Groetjes Ayse").signature == "Groetjes Ayse"
    n = normalize("Bel me alsjeblieft 0628374610\nDewi")
    assert n.signature == "Dewi"


def test_masking_of_personal_details():
    m = mask("Bel 06-12345678 of +31 6 1234 5678, mail Piet@Voorbeeld.nl, 1781 AB, geb 12-3-1980, 450 euro")
    for secret in ("12345678", "piet", "voorbeeld", "1781", "1980", "450"):
        assert secret not in m
    assert "zztelefoon" in m and "zzemail" in m and "zzpostcode" in m and "zzdatum" in m


def test_control_characters_and_subject_prefixes():
    n = normalize("hallo\x00\u200b wereld", subject="Re: Fwd: vraag")
    assert n.body == "hallo  wereld"
    assert n.model_text.startswith("vraag")
