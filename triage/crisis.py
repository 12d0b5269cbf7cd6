"""Crisis safeguard: a rule-based detector of acute danger, in Dutch and
English, built for recall.

A rule fires on a sentence of the message body (quoted mail and signatures
are not read). A hit is dropped when the same sentence negates it right
before the match ("ik denk niet aan zelfmoord"), places it in the past
("vorig jaar wilde ik er een eind aan maken", unless "weer"/"vandaag"/...),
or asks what to do *if* it happened ("wat moet ik doen als ..."). Whatever
the classifier says, a detection makes the category ``crisis``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CrisisHit", "detect", "RULES"]

_P = r"(?:mijn|m'n|mn|me)"
_I = r"(?:ik|'k|k)"

# (rule id, kind, pattern). Patterns run on lower-cased sentences.
RULES: list[tuple[str, str, str]] = [
    # --- suicidal intent, direct and indirect ---
    ("suicide_word", "suicide", r"zelfmoord|su[iï]cid|suicide|suicidal|zelfdoding|mezelf\s+(?:van\s+het\s+leven|dood)"),
    ("end_it", "suicide", r"(?:er|het|alles)\s+(?:(?:vannacht|vanavond|vandaag|nu|maar|gewoon|echt|zelf)\s+)?(?:een\s+)?(?:eind(?:e)?|punt)\s+(?:aan|achter)\s+(?:te\s+)?(?:maken|zetten|maak|zet)|" + _P + r"\s+leven\s+(?:te\s+)?(?:beëindigen|beeindigen|stoppen)|uit\s+het\s+leven\s+(?:stappen|gaan|te\s+stappen)"),
    ("not_live", "suicide", r"(?:wil|wilde|kan|hoef|zie)\s+(?:\w+\s+){0,2}niet\s+(?:meer\s+)?(?:verder\s+)?(?:leven|door\s*leven|verder)\b(?!\s+met\s+(?:die|dat|de|deze|hem|haar))|(?:wil|wou)\s+(?:\w+\s+)?dood\b|dood\s+(?:willen|wil)\b|niet\s+meer\s+wakker\s+(?:worden|te\s+worden)"),
    ("no_point", "suicide", r"het\s+hoeft\s+(?:\w+\s+){0,3}niet\s+meer\b(?!\s+(?:geregeld|gestuurd|te\s+komen|langs))|(?:zie|zag)\s+het\s+(?:echt\s+|allemaal\s+|niet\s+)*niet\s+meer\s+zitten|zie\s+geen\s+(?:uitweg|toekomst|zin)|heeft\s+(?:het\s+)?(?:allemaal\s+)?(?:nog\s+)?(?:geen\s+)?zin\s+meer|wat\s+heeft\s+het\s+(?:allemaal\s+)?(?:nog\s+)?(?:voor\s+)?zin|geen\s+reden\s+(?:meer\s+)?om\s+(?:te\s+)?(?:leven|door\s+te\s+gaan)"),
    ("burden", "suicide", r"(?:iedereen|jullie|hen|mijn\s+kinderen)\s+(?:\w+\s+){0,2}tot\s+last|(?:het\s+)?beter\s+(?:af\s+)?zonder\s+(?:mij|me)\b|beter\s+(?:als|als\s+ik)\s+(?:ik\s+)?er\s+niet\s+(?:meer\s+)?(?:ben|was|zou\s+zijn)"),
    ("goodbye", "suicide", r"afscheids?\s*brie[fv]|afscheid\s+(?:genomen|nemen)\s+van\s+(?:iedereen|mijn|m'n)|morgen\s+ben\s+ik\s+er\s+niet\s+meer|er\s+(?:straks|morgen|binnenkort)\s+niet\s+meer\s+(?:zijn|ben)|niet\s+meer\s+(?:hier\s+)?(?:zijn|ben)\s+(?:morgen|straks|vanavond)"),
    ("goodbye_quiet", "suicide", r"(?:dit\s+is|hier\s+is)\s+(?:mijn|de)\s+laatste\s+(?:bericht|berichtje|mail|keer\s+dat\s+ik\s+(?:jullie|u)\s+(?:mail|schrijf|bel))|(?:ik\s+)?schrijf\s+(?:\w+\s+){0,2}(?:de|voor\s+de)\s+laatste\s+keer\b(?!\s+(?:om|dat\s+ik\s+(?:vraag|om)))|brie(?:f|ven)\s+(?:\w+\s+){0,3}geschreven\s+(?:\w+\s+){0,2}voor\s+(?:mijn|mn|m'n|de)\s+(?:kinderen|kids|zoon|dochter|man|vrouw|ouders|moeder|vader)|(?:het\s+)?spijt\s+(?:me|hem|haar)\s+van\s+alles|verder\s+moet(?:en)?\s+zonder\s+(?:hem|haar|mij|me)\b|geregeld\s+wat\s+er\s+geregeld\s+moest|(?:mijn|het)\s+lichaam\s+(?:\w+\s+){0,5}(?:wetenschap|ter\s+beschikking)|ter\s+beschikking\s+stellen\s+van\s+(?:mijn|m'n|mn)\s+lichaam|te\s+moe\s+voor\s+nog\s+een\s+dag|dat\s+(?:mama|papa|ik)\s+(?:heel\s+veel\s+)?van\s+(?:ze|hen|jullie)\s+(?:hou|houdt)|(?:spullen|alles|mijn\s+\w+)\s+(?:\w+\s+){0,3}weggegeven\s+(?:\w+\s+){0,4}(?:niet\s+meer\s+nodig|heb\s+ik\s+niet\s+meer)|(?:heb|hebben)\s+(?:\w+\s+){0,2}niet\s+meer\s+nodig\s+(?:\w+\s+){0,3}(?:straks|binnenkort|na\s+vanavond)"),
    ("means", "suicide", r"pillen\s+(?:\w+\s+){0,3}(?:verzameld|gespaard|klaar|ingenomen|innemen|slikken|geslikt)|(?:verzameld|gespaard|klaargelegd|klaar\s+liggen|klaarliggen)\s+(?:\w+\s+){0,2}pillen|(?:alle|al\s+mijn|een\s+hele?)\s+(?:\w+\s+)?(?:pillen|medicijnen|strip)\s+(?:\w+\s+){0,2}(?:innemen|slikken|geslikt|ingenomen)|op\s+(?:de|het)\s+(?:brug|spoor|dak)\s+(?:staan|sta|zit|zitten)|(?:sta|zit)\s+(?:\w+\s+){0,2}op\s+(?:de|het)\s+(?:brug|spoor|dak)|voor\s+de\s+trein|touw\s+(?:\w+\s+){0,2}(?:gekocht|klaar|opgehangen)|ophangen|(?:mezelf|mijzelf|me)\s+(?:\w+\s+){0,2}(?:iets\s+)?(?:aan\s*(?:te\s+)?doen|aandoen|snijden|pijn\s+doen|verwond)|snijd\s+(?:mezelf|mij)|zelfbeschadig"),
    ("en_suicide", "suicide", r"kill\s+myself|end\s+(?:my|it\s+all|things)|(?:don'?t|do\s+not|no\s+longer)\s+want\s+to\s+(?:live|be\s+here|go\s+on|wake\s+up)|want\s+to\s+die|better\s+off\s+without\s+me|no\s+reason\s+to\s+live|hurt\s+myself|took\s+(?:all\s+)?(?:the\s+|my\s+)?pills|can'?t\s+go\s+on"),
    ("suicide_indirect", "suicide", r"(?:strips?|pillen|tabletten|medicijnen|slaappillen|paracetamol)\s+(?:\w+\s+){0,5}(?:bij\s+elkaar|gespaard|verzameld|genomen|ingenomen|geslikt|klaargelegd|neem|innemen|slikken)\b|(?:genomen|geslikt|ingenomen)\s+(?:\w+\s+){0,3}(?:strips?|pillen|tabletten|medicijnen)|hoeveel\s+(?:\w+\s+){0,2}(?:is|zijn)\s+(?:\w+\s+)?dodelijk|niemand\s+(?:gaat|zal)\s+(?:me|mij)\s+missen|(?:ik\s+)?kom\s+niet\s+meer\s+terug|eindelijk\s+rust|wil\s+(?:gewoon\s+|alleen\s+)(?:dat\s+(?:het|alles)\s+(?:\w+\s+)?(?:stopt|ophoudt)|slapen\s+en\s+niet\s+meer\s+wakker)|genoeg\s+geleefd|(?:ga|gaat|wil|wilt)\s+(?:\w+\s+){0,2}springen|zee\s+in\s+(?:lopen|loop)|loop\s+(?:zo\s+)?de\s+zee\s+in|bij\s+het\s+spoor|afscheid\s+(?:genomen|nemen)|brieven\s+(?:geschreven|geschreven)\s+(?:\w+\s+){0,3}(?:voor\s+later|kinderen)|testament\s+(?:\w+\s+){0,2}geregeld|hoef\s+morgen\s+niet\s+meer|(?:heb|heeft)\s+(?:\w+\s+){0,2}(?:gesneden|snijden)|mesje|polsen|beter\s+af\s+(?:is|zijn|zou)\s+zonder\s+(?:mij|me)"),
    ("self_harm", "suicide", r"(?:heb|ben|weer|mezelf|mijzelf|me|blijf|aan\s+het)\s+(?:\w+\s+){0,2}(?:gekrast|krassen|kras)\b|gekrast\s+(?:\w+\s+){0,6}(?:bloed|stoppen|arm|armen|benen|pols)|(?:veel|zoveel|overal)\s+bloed\s+(?:\w+\s+){0,4}(?:stopt\s+niet|vloer|badkamer|arm|pols)"),
    ("means_question", "suicide", r"hoeveel\s+(?:\w+\s+){0,2}(?:paracetamol|pillen|tabletten|slaappillen|medicijnen|oxazepam|temazepam|insuline|strips?)\s+(?:\w+\s+){0,6}(?:voordat|voor\s+het\s+mis|misgaat|mis\s+gaat|doodgaat|dood\s+gaat|dodelijk|niet\s+meer\s+wakker)|how\s+many\s+(?:\w+\s+){0,2}(?:pills|tablets|paracetamol)\s+(?:\w+\s+){0,5}(?:kill|lethal|fatal|die)"),
    # --- violence / threat now ---
    ("violence_indirect", "violence", r"(?:heeft|hij|ze|zij|vader|vriend|man|ex)\s+(?:\w+\s+){0,3}(?:me|mij|haar|hem|ons|mn\s+\w+|mijn\s+\w+)\s+(?:\w+\s+){0,2}(?:geslagen|een\s+klap\s+gegeven|geduwd|geschopt|gewurgd|uit\s+huis\s+geslagen)|(?:slaat|schopt)\s+(?:\w+\s+){0,2}(?:weer|nu)|(?:vast|klem)\s+tegen\s+de\s+muur|(?:opgesloten|sluit\s+(?:\w+\s+){0,3}op)\b|met\s+een\s+mes|(?:gaat|komt)\s+(?:me|mij|ons|haar)\s+(?:\w+\s+)?(?:afmaken|vermoorden|doodmaken|vinden)|(?:me|mij|ons|haar)\s+(?:\w+\s+)?(?:gaat|komt|zal)\s+(?:\w+\s+)?(?:afmaken|vermoorden|doodmaken|doodsteken)|ik\s+sla\s+je|hoorde?\s+(?:\w+\s+){0,3}(?:klappen|gillen|gillen\s+om\s+hulp)|gilt\s+om\s+hulp|(?:durf|durven)\s+(?:\w+\s+){0,2}niet\s+(?:terug\s+)?naar\s+(?:huis|beneden|binnen)|(?:ik|wij|we)\s+(?:ben|zijn)\s+(?:de\s+)?volgende|(?:is|zijn|ben)\s+(?:\w+\s+)?(?:dronken|agressief)\s+(?:\w+\s+){0,5}(?:schreeuwt|gooit|slaat|bonkt)|staat\s+(?:\w+\s+){0,3}(?:voor\s+de\s+(?:\w+\s+)?deur\s+)?te\s+(?:bonken|schreeuwen|trappen)"),

    ("violence_now", "violence", r"(?:hij|zij|ze|mijn\s+(?:man|vrouw|vriend|vriendin|partner|ex|zoon|vader|stiefvader))\s+(?:\w+\s+){0,2}(?:slaat|schopt|wurgt|mishandelt|sloeg|schopte|wurgde)\s+(?:me|mij|ons|mijn|de\s+kinderen|haar|hem)|(?:word|werd)\s+(?:\w+\s+){0,2}(?:geslagen|mishandeld|gewurgd|geschopt)|(?:bedreigt|bedreigde|dreigt)\s+(?:\w+\s+){0,3}(?:me|mij|ons|de\s+kinderen)\s+(?:\w+\s+){0,4}(?:dood|vermoorden|af\s*te\s*maken|mes|pakken|slaan|vanavond|vannacht|nu)\b|dreigt\s+(?:\w+\s+){0,4}(?:te\s+)?(?:vermoorden|doodmaken|dood\s+te\s+maken|af\s+te\s+maken|iets\s+aan\s+te\s+doen)|(?:met\s+een\s+)?mes\s+(?:\w+\s+){0,3}(?:bedreigd|gedreigd|gestoken|op\s+mijn\s+keel)|komt\s+(?:\w+\s+){0,2}(?:me|mij|ons)\s+(?:vanavond\s+|vannacht\s+)?(?:halen|pakken|vermoorden)|durf\s+(?:\w+\s+){0,2}niet\s+(?:meer\s+)?(?:naar\s+)?(?:huis|thuis)|(?:zit|zitten|verstopt|opgesloten)\s+(?:\w+\s+){0,3}(?:in\s+de\s+)?(?:badkamer|wc|slaapkamer)\s+(?:\w+\s+){0,3}(?:opgesloten|verstopt)?|huiselijk\s+geweld\s+(?:nu|op\s+dit\s+moment)|niet\s+(?:meer\s+)?veilig\s+(?:thuis|in\s+(?:mijn|ons)\s+huis)|onveilig\s+(?:thuis|in\s+huis)"),
    ("en_violence", "violence", r"(?:is|keeps|he'?s|she'?s)\s+(?:\w+\s+)?(?:hitting|beating|choking|threatening)\s+(?:me|us|my)|hit\s+me\s+(?:again|tonight|just\s+now)|threatened\s+to\s+kill|(?:not|don'?t\s+feel)\s+safe\s+at\s+home|afraid\s+(?:he|she)\s+will\s+(?:kill|hurt)"),
    # --- child unsafe now ---
    ("child_unsafe", "child", r"(?:kind|kinderen|zoon|dochter|baby|kleine|kids)\s+(?:\w+\s+){0,3}(?:is|zijn)\s+(?:\w+\s+)?(?:niet\s+veilig|onveilig|in\s+gevaar)|(?:slaat|mishandelt|schopt)\s+(?:\w+\s+){0,2}(?:de|het|zijn|haar|mijn)\s+(?:kind|kinderen|baby|zoon|dochter)|(?:kind|kinderen|baby)\s+(?:\w+\s+){0,4}alleen\s+(?:thuis\s+)?(?:gelaten|achtergelaten)|child\s+(?:is\s+)?(?:not\s+safe|in\s+danger)"),
    # --- homeless now ---
    ("street_now", "homeless", r"(?:vannacht|vanavond|vandaag|morgen)\s+(?:\w+\s+){0,4}(?:op\s+straat|buiten\s+slapen|geen\s+(?:dak|slaapplek)|nergens\s+(?:heen|naartoe)|uit\s+(?:mijn|m'n|ons|het)\s+huis)|(?:op\s+straat|buiten)\s+(?:\w+\s+){0,3}(?:vannacht|vanavond|vandaag)|(?:nergens|geen\s+plek)\s+(?:\w+\s+){0,2}(?:om\s+te\s+|te\s+)?(?:slapen|heen|naartoe)\s+(?:\w+\s+){0,2}(?:vannacht|vanavond|vandaag)|(?:weet|heb)\s+(?:\w+\s+){0,2}(?:niet\s+waar|geen\s+plek\s+waar)\s+(?:\w+\s+){0,3}(?:vannacht|vanavond)\s+(?:moet|kan|moeten|kunnen)\s+slapen|slaap\s+(?:\w+\s+){0,2}(?:buiten|in\s+(?:mijn|m'n|de)\s+auto|op\s+straat)|(?:wordt|worden|word)\s+(?:\w+\s+){0,2}(?:vandaag|morgen(?:vroeg)?)\s+(?:\w+\s+){0,2}(?:ontruimd|uit\s+huis\s+gezet)|ontruiming\s+(?:\w+\s+){0,2}(?:is\s+)?(?:vandaag|morgen)|(?:sleep|sleeping)\s+(?:outside|on\s+the\s+street|in\s+(?:my|the)\s+car)|nowhere\s+to\s+(?:sleep|go|stay)\s*(?:tonight|today)?|evicted\s+today|on\s+the\s+street\s+tonight"),
    ("homeless_indirect", "homeless", r"waar\s+(?:moet|moeten|kan|kunnen)\s+(?:ik|we|wij|ze|zij|hij)\s+(?:\w+\s+){0,2}(?:vannacht|vanavond)\s*(?:\w+\s+){0,2}(?:slapen|heen|naartoe|gaan)|(?:vannacht|vanavond)\s+(?:\w+\s+){0,2}(?:slapen|heen)\s*\?|(?:uit\s+huis|eruit|op\s+straat)\s+(?:\w+\s+){0,2}(?:gezet|gegooid|geschopt)|(?:eruit|buiten)\s+gezet|(?:sta|staan|zit|zitten)\s+(?:\w+\s+){0,2}(?:nu\s+)?(?:op\s+straat|buiten\s+met|bij\s+het\s+station\s+met)|(?:slaap|slapen|sliep)\s+(?:\w+\s+){0,4}in\s+(?:mijn|mn|m'n|de|onze)\s+auto|nachtopvang|sloten\s+(?:\w+\s+)?(?:vervangen|veranderd)|(?:komen|komt)\s+(?:\w+\s+){0,3}(?:ontruimen|ontruiming)|geen\s+(?:huis|dak|slaapplek|plek\s+om\s+te\s+slapen)\s+(?:meer\s+)?(?:vanavond|vannacht|vandaag)|(?:vanavond|vannacht|vandaag)\s+(?:\w+\s+){0,2}geen\s+(?:huis|dak|slaapplek|plek)|(?:vandaag|nu)\s+(?:\w+\s+){0,3}(?:weg|eruit)\s+(?:moet|moeten)|(?:moet|moeten)\s+(?:\w+\s+){0,3}vandaag\s+(?:\w+\s+){0,2}(?:weg|eruit|de\s+woning\s+uit)"),
    # --- vulnerable person without care now ---
    ("no_care", "care", r"(?:ligt|lag)\s+(?:\w+\s+){0,3}op\s+de\s+(?:grond|vloer)\s+(?:\w+\s+){0,3}(?:kan|komt)\s+niet\s+(?:meer\s+)?(?:op|overeind)|(?:al\s+)?(?:dagen|twee\s+dagen|drie\s+dagen)\s+(?:\w+\s+){0,3}(?:niet\s+gegeten|geen\s+eten|niemand\s+gezien|niet\s+uit\s+bed)|zonder\s+(?:eten|verwarming|zorg|medicijnen)\s+(?:\w+\s+){0,3}(?:zit|zitten|achtergelaten|gelaten)|(?:verwarming|gas|stroom)\s+(?:\w+\s+){0,3}(?:afgesloten|uit)\s+(?:\w+\s+){0,5}(?:ijskoud|vriest|bevriest|koud)|niemand\s+(?:\w+\s+){0,3}(?:voor\s+haar|voor\s+hem|die\s+voor)\s+(?:\w+\s+){0,2}zorgt\s+(?:\w+\s+){0,3}(?:vandaag|vannacht|nu)|no\s+food\s+(?:or|and)\s+(?:heating|care)|alone\s+without\s+(?:food|care|heating)"),
    ("care_indirect", "care", r"(?:hij|zij|ze|vader|moeder|opa|oma|man|vrouw|buurman|buurvrouw)\s+(?:\w+\s+){0,4}reageert\s+(?:bijna\s+|nauwelijks\s+)?(?:niet|niks)\b(?!\s+op\s+(?:brieven|post|mail|telefoon))|niet\s+(?:meer\s+)?aanspreekbaar|(?:al|sinds)\s+(?:\w+\s+){0,3}(?:dagen|gisteren)\s+(?:\w+\s+){0,4}(?:de\s+)?deur\s+niet\s+(?:meer\s+)?open|(?:doet|deed)\s+(?:\w+\s+){0,3}(?:de\s+)?deur\s+niet\s+(?:meer\s+)?open\s+(?:\w+\s+){0,6}(?:dagen|gordijnen|post|niemand\s+gezien)|(?:zonder|geen)\s+(?:verwarming|eten|stroom|medicijnen)\s+(?:\w+\s+){0,6}(?:vriest|vriezen|koud|graden|alleen|niemand)|(?:vriest|vriezen|graden)\s+(?:\w+\s+){0,8}(?:geen|zonder)\s+(?:verwarming|kachel)|(?:alleen\s+thuis|zit\s+(?:nu\s+)?alleen)\s+(?:\w+\s+){0,8}(?:dementie|alzheimer|kan\s+(?:zelf\s+)?niet)|(?:dementie|alzheimer|verward)\s+(?:\w+\s+){0,10}(?:weggelopen|weggegaan|de\s+deur\s+uit|niet\s+teruggekomen|weet\s+niet\s+waar|dwaalt|buiten)|zuurstof\s+(?:\w+\s+){0,6}(?:afgesloten|doet\s+het\s+niet)|(?:stroom|gas)\s+(?:\w+\s+){0,3}afgesloten\s+(?:\w+\s+){0,6}(?:zuurstof|baby|koud|vriest)|brandwonden|(?:sinds|al)\s+(?:\w+\s+){0,2}(?:weg|vermist)\s+(?:\w+\s+){0,6}(?:telefoon\s+(?:staat\s+)?uit|niet\s+(?:meer\s+)?bereikbaar)|ligt\s+(?:\w+\s+){0,3}(?:op\s+de\s+grond|bewusteloos)"),
    # --- confused or dangerous behaviour now ---
    ("danger_behaviour", "danger", r"(?:gas|gaskraan)\s+(?:\w+\s+){0,3}open|brand\s+(?:\w+\s+){0,2}(?:stichten|te\s+stichten|gesticht)|(?:dreigt|wil)\s+(?:\w+\s+){0,3}(?:de\s+flat|het\s+huis|alles)\s+(?:\w+\s+){0,2}(?:op\s+te\s+blazen|in\s+brand|af\s+te\s+branden)|psychose\s+(?:\w+\s+){0,3}(?:nu|op\s+dit\s+moment|vandaag)|(?:hoort|ziet)\s+(?:\w+\s+){0,2}stemmen\s+(?:\w+\s+){0,5}(?:gevaar|mes|vermoorden|doden|dood)|loopt\s+(?:\w+\s+){0,4}(?:verward|naakt)\s+(?:\w+\s+){0,3}(?:op\s+straat|buiten|rond)|overdosis|overdose|(?:loopt|staat|zwaait)\s+(?:\w+\s+){0,4}met\s+een\s+(?:mes|bijl|knuppel|honkbalknuppel)|(?:ramen|ruiten)\s+(?:\w+\s+)?(?:ingegooid|ingeslagen|kapot\s+gegooid)|(?:op|naar)\s+het\s+dak\s+(?:van\s+de\s+flat|geklommen)|is\s+(?:nu\s+)?op\s+het\s+dak|ziet\s+beestjes|beestjes\s+(?:\w+\s+){0,3}muur|praat\s+wartaal|(?:drinkt|rijdt|reed)\s+(?:\w+\s+){0,6}(?:dronken|onder\s+invloed)\s+(?:\w+\s+){0,6}(?:auto|kinderen|kind|rijdt)|dronken\s+(?:\w+\s+){0,6}(?:in\s+de\s+auto|achter\s+het\s+stuur|rijdt)"),
]

_COMPILED = [(rid, kind, re.compile(rf"\b(?:{pat})", re.I)) for rid, kind, pat in RULES]


# A negation right before a match (at most two words between) cancels it.
_NEG_BEFORE = re.compile(r"\b(?:niet|geen|nooit|niks|nee|not|no|never|don'?t|zonder)\b(?:\s+[\w']+){0,2}\s*$", re.I)
_NEG_ONLY = re.compile(r"\b(?:ben|word|voel)\s+(?:me\s+)?niet\s+(?:suïcidaal|suicidaal|suicidal)\b", re.I)
_PAST = re.compile(
    r"\b(?:vorig(?:e)?\s+(?:jaar|maand|week|winter|zomer|keer)|vroeger|(?:\w+\s+)?(?:jaar|jaren|maanden|weken)\s+geleden|"
    r"in\s+het\s+verleden|destijds|indertijd|toen(?:\s+ik|\s+hij|\s+zij|\s+we)?|gelukkig\s+(?:is|was)\s+dat|"
    r"(?:dat|die\s+tijd)\s+is\s+(?:nu\s+|gelukkig\s+)?(?:voorbij|achter\s+(?:me|de\s+rug))|inmiddels|ooit|"
    r"(?:\w+\s+)?(?:dagen|weken|maanden|jaar|jaren)\s+(?:terug|geleden)|vorige\s+(?:maand|week)|afgelopen\s+(?:jaar|maand|zomer|winter|najaar|voorjaar)|"
    r"volgende\s+(?:week|maand)|over\s+(?:\w+\s+)?(?:dagen|weken|maanden)|gepland\s+(?:op|voor)|na\s+(?:een|de|zijn|haar)\s+(?:psychose|opname|poging)|"
    r"(?<!sinds\s)(?:eer)?gisteren(?:avond|middag|ochtend)?|een\s+(?:keer|paar\s+keer)\s+(?:\w+\s+)?(?:geduwd|geslagen)|"
    r"last\s+year|years\s+ago|in\s+the\s+past|used\s+to|back\s+then|when\s+i\s+was|weeks\s+ago|last\s+(?:month|week)|next\s+(?:month|week))\b",
    re.I,
)
_PRESENT = re.compile(r"\b(?:weer|opnieuw|vandaag|vannacht|vanavond|op\s+dit\s+moment|nog\s+steeds|nu\s+weer|again|right\s+now|tonight|today|still)\b", re.I)
_HYPOTHETICAL = re.compile(
    r"\b(?:wat\s+(?:moet|kan|doe|moeten|kunnen)\s+(?:ik|je|jij|men|we|wij)\s+(?:\w+\s+){0,2}(?:als|wanneer|indien)|wat\s+te\s+doen\s+(?:als|bij)|stel\s+dat|"
    r"waar\s+(?:kan|moet)\s+(?:ik|je|men)\s+(?:\w+\s+){0,3}(?:als|wanneer|bij)|hoe\s+(?:herken|weet|merk)|spreekbeurt|werkstuk|profielwerkstuk|"
    r"voor\s+(?:een\s+)?(?:school|opdracht)|welk\s+nummer|wat\s+is\s+het\s+nummer|wat\s+gebeurt\s+er\s+(?:als|wanneer)|(?:word|wordt|worden)\s+(?:ik|je|we|wij)\s+dan|"
    r"what\s+(?:should|can|do)\s+(?:i|we|you)\s+do\s+(?:if|when)|if\s+someone|in\s+case)\b",
    re.I,
)
# Figures of speech that contain crisis words but mean nothing acute.
_FIGURE = re.compile(
    r"\b(?:dood\s*(?:moe|ziek|nerveus|eng|stil|gewoon)|(?:ga|ging|gaan)\s+(?:nog\s+)?dood\s+van\s+(?:de\s+)?(?:stress|verveling|schaamte|de\s+kou|het\s+lachen|ellende)|"
    r"word\s+(?:er\s+)?gek\s+van|schiet\s+(?:me|mezelf)\s+(?:nog\s+)?(?:een\s+)?(?:keer\s+)?(?:voor\s+mijn\s+kop|door\s+het\s+hoofd)\s+(?:van|met)|"
    r"killing\s+me|kill\s+(?:for|time))\b",
    re.I,
)
# The writer says in words that nothing is acute: rule hits are dropped.
_NOT_ACUTE = re.compile(
    r"\b(?:(?:geen|niet)\s+(?:\w+\s+)?(?:acuu?te?|direct(?:e)?)\s+(?:\w+\s+)?(?:gevaar|dreiging|zorgen|crisis|nood|spoed)|niet\s+acuut|geen\s+(?:acuut\s+)?gevaar|"
    r"(?:is|zijn)\s+(?:nu\s+)?(?:weer\s+)?veilig\b|(?:is|zijn)\s+(?:nu\s+)?(?:stabiel|opgenomen)\b|geen\s+spoed|niet\s+(?:dringend|urgent)|"
    r"gelukkig\s+(?:is|was)\s+(?:het|dat|hij|zij|ze)\s+(?:\w+\s+)?(?:voorbij|veilig|goed)|ontkent\s+(?:\w+\s+)?(?:stellig|suïcid\w*)|"
    r"vandaag\s+niet|nu\s+(?:is\s+(?:het|hij|ze)\s+)?(?:even\s+)?rustig|"
    r"not\s+(?:in\s+)?(?:acute\s+)?danger|no\s+(?:acute|immediate)\s+danger|(?:is|are)\s+safe\s+now)\b",
    re.I,
)
_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class CrisisHit:
    rule: str
    kind: str
    text: str  # the matched words, for reasons shown to agents


def _sentences(text: str) -> list[str]:
    return [s for s in _SENT_SPLIT.split(text) if s.strip()]


def detect(body: str) -> list[CrisisHit]:
    """All crisis rule hits in ``body`` after negation, past-tense,
    hypothetical and figure-of-speech filtering."""
    hits: list[CrisisHit] = []
    if _NOT_ACUTE.search(body):
        return hits
    sentences = _sentences(body.lower())
    for sent in sentences:
        if _HYPOTHETICAL.search(sent) or _NEG_ONLY.search(sent):
            continue
        past = bool(_PAST.search(sent)) and not _PRESENT.search(sent)
        if past:
            continue
        for rid, kind, rx in _COMPILED:
            for m in rx.finditer(sent):
                before = sent[max(0, m.start() - 40): m.start()]
                if _NEG_BEFORE.search(before):
                    continue
                if kind != "care" and re.search(r"\b(?:nooit|niks|niets|never)\b", m.group(0)):
                    continue
                window = sent[max(0, m.start() - 30): m.end() + 30]
                if _FIGURE.search(window):
                    continue
                hits.append(CrisisHit(rid, kind, m.group(0).strip()))
                break
    return hits
