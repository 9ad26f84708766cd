"""What a German question asks for, and where a sentence states something of that kind.

"Wie viele ...?" wants a number, "Wann ...?" a date, "Wer ...?" a person or an
organisation, "Wo ...?" a place; "Was/Welche/Wie/Warum" want a description. A sentence
that carries the answer to a typed question contains such an expression (a number, a
date, a name, a place), and a passage without one is weak evidence however many of the
question's words it shares: "Wie viel kostet BOR.KI?" is not answered by a passage that
only describes BOR.KI. The finders below are deliberately plain (patterns, not a tagger)
and return character spans, so the answer can also be marked where it is shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise


class Expected(StrEnum):
    COUNT = "count"  # wie viele, wie oft
    AMOUNT = "amount"  # was kostet, wie teuer, wie viel Geld, wie hoch ist die Förderung
    PERCENT = "percent"  # wie viel Prozent, welcher Anteil
    DURATION = "duration"  # wie lange
    AGE = "age"  # wie alt
    QUANTITY = "quantity"  # wie hoch, wie groß, wie viel (a number of some unit)
    DATE = "date"  # wann, seit wann, bis wann, in welchem Jahr
    WHO = "who"  # wer, von wem, welche Firma
    PLACE = "place"  # wo, in welcher Stadt
    ROLE = "role"  # welche Funktion hat X, was macht X beruflich
    CONTACT = "contact"  # E-Mail, Telefon, Adresse, Öffnungszeiten
    RATING = "rating"  # Bewertung, Note, Zufriedenheit
    DESCRIPTION = "description"  # was, welche, wie, warum

    @property
    def is_number(self) -> bool:
        return self in _NUMBER_KINDS

    @property
    def is_typed(self) -> bool:
        return self is not Expected.DESCRIPTION


_NUMBER_KINDS = frozenset({Expected.COUNT, Expected.AMOUNT, Expected.PERCENT,
                           Expected.DURATION, Expected.AGE, Expected.QUANTITY,
                           Expected.RATING})
# kinds that are stated or not: no sentence with such an expression, no answer
STATED_KINDS = _NUMBER_KINDS | {Expected.DATE, Expected.CONTACT}

_I = re.IGNORECASE
_MONTHS = ("januar|februar|märz|maerz|april|mai|juni|juli|august|september|oktober|"
           "november|dezember|jan|feb|mär|apr|jun|jul|aug|sep|sept|okt|nov|dez")
_ORG_NOUNS = ("firma|firmen|unternehmen|organisation|organisationen|institut|institute|"
              "institution|institutionen|einrichtung|einrichtungen|hochschule|hochschulen|"
              "universität|universitäten|behörde|behörden|ministerium|ministerien|verband|"
              "verbände|verein|vereine|partner|partnerin|anbieter|hersteller|person|personen|"
              "professor|professorin|professoren|professorinnen|ministerin|minister|"
              "bürgermeister|bürgermeisterin|oberbürgermeister|oberbürgermeisterin|landrat|"
              "landrätin|leiterin|leiter|referentin|referent|forschungseinrichtung|"
              "forschungseinrichtungen|dienstleister|akteur|akteure|gremium|gremien|amt|"
              "ämter|stelle|stellen|fachleute|experten|expertinnen|referenten|sprecher|"
              "sprecherin|redner|rednerin|rednerinnen|teilnehmende|teilnehmer")
_PLACE_NOUNS = ("stadt|städte|kommune|kommunen|gemeinde|gemeinden|kreis|kreise|landkreis|"
                "landkreise|ort|orte|region|bundesland|land|länder|bezirk|stadtteil|"
                "hansestadt|großstadt|kreisstadt")

# (pattern on the question, what it asks for); the first that matches wins, so the
# specific forms come before the general ones
_QUESTION_PATTERNS: list[tuple[re.Pattern[str], Expected]] = [
    # contact details and ratings are asked for by name, wherever the question word is;
    # only the words themselves, not compounds they begin ("Telefonassistent" asks
    # about an assistant, "E-Mail-Postfach" about a mailbox)
    (re.compile(r"\b(?:e-?mail|e-?mails|mail-?adresse\w*|mailadresse\w*|telefon|"
                r"telefonnummer\w*|telefonisch|tel\.|handynummer\w*|rufnummer\w*|"
                r"faxnummer\w*|fax|anschrift\w*|postanschrift\w*|adresse|adressen|"
                r"öffnungszeit(?:en)?|oeffnungszeit(?:en)?|sprechzeit(?:en)?|"
                r"sprechstunde(?:n)?|erreichbar\w*|ansprechpart(?:ner|nerin|nerinnen|ner)?|"
                r"kontaktdaten|kontaktperson\w*|internetadresse\w*|mail|geöffnet|geoeffnet|"
                r"aufhat|aufhaben)(?![\w-])", _I),
     Expected.CONTACT),
    (re.compile(r"\b(?:bewertung\w*|bewertet|benotet|note|noten|sterne[n]?|zufriedenheit\w*|"
                r"wie\s+zufrieden|rating|score|ranking|platzierung|auf\s+welchem\s+platz)\b",
                _I), Expected.RATING),
    # the role of a named person: "welche Funktion hat X", "was macht X beruflich"
    (re.compile(r"\bwelche(?:s|n)?\s+(?:funktion|rolle|aufgabe|position|stelle|amt|titel|"
                r"job|beruf|posten)\b|\bwas\s+macht\s+\w+(?:\s+\w+)?\s+beruflich|"
                r"\bals\s+was\s+(?:arbeitet|ist|war|tätig)|\bwas\s+ist\s+\w+\s+\w+\s+von\s+"
                r"beruf", _I), Expected.ROLE),
    # asking for a name: "Wie heißt das Vorhaben, das vorhersagt, wann ..." is no "wann"
    (re.compile(r"\bwie\s+(?:heißt|heißen|heisst|heissen|lautet|lauten|nennt\s+sich|"
                r"nennen\s+sich)\b|\bwas\s+ist\s+(?:der|die|das)\s+name", _I),
     Expected.DESCRIPTION),
    (re.compile(r"\bwie\s*viel(?:e|en)?\s+prozent|\bwelchen?\s+anteil|\bzu\s+wie\s*viel\s+"
                r"prozent|\bwie\s+hoch\s+ist\s+(?:der|die)\s+(?:anteil|quote)", _I),
     Expected.PERCENT),
    (re.compile(r"\bwas\s+kostet|\bwas\s+kosten|\bwie\s+teuer|\bwie\s*viel\s+(?:geld|euro|"
                r"kostet|kosten)|\bwelche\s+kosten|\bwie\s+hoch\s+(?:ist|sind|war|waren)\s+"
                r"(?:die|der|das)\s+(?:kosten|förderung|fördersumme|budget|summe|betrag|"
                r"preis|gebühr|gebühren|zuschuss|mittel|investition|etat)|\bwelche\s+summe|"
                r"\bwelcher\s+betrag|\bmit\s+wie\s*viel\s+(?:geld|euro)", _I), Expected.AMOUNT),
    (re.compile(r"\b(?:kostet|kosten|gekostet|kostete|kosteten|preis|preise|gebühr\w*|"
                r"teuer|bezahlt|zahlen|zahlt)\b", _I), Expected.AMOUNT),
    (re.compile(r"\bwie\s+alt\b", _I), Expected.AGE),
    # "wie lang läuft/dauert" is a duration as typed; "wie lang ist die Strecke" a length
    (re.compile(r"\bwie\s+lange\b|\bwie\s+viele\s+(?:jahre|monate|wochen|tage|stunden)\b|"
                r"\bwie\s+lang\s+(?:läuft|laufen|lief|dauert|dauern|dauerte|gilt|gelten|galt|"
                r"geht|braucht|brauchen|bleibt|hält|arbeitet|arbeiten)\b", _I),
     Expected.DURATION),
    (re.compile(r"\bseit\s+wann\b|\bbis\s+wann\b|\bab\s+wann\b|\bwann\b|\bin\s+welchem\s+"
                r"(?:jahr|monat|zeitraum|quartal)|\ban\s+welchem\s+(?:tag|datum)|\bwelches\s+"
                r"datum|\bzu\s+welchem\s+zeitpunkt|\bwelches\s+jahr", _I), Expected.DATE),
    (re.compile(r"\bwie\s*viele?n?\b|\bwie\s+oft\b|\bwieviele?\b|\bwelche\s+anzahl|"
                r"\bin\s+wie\s*vielen\b|\baus\s+wie\s*vielen\b", _I), Expected.COUNT),
    (re.compile(r"\bwie\s+(?:hoch|groß|gross|schwer|weit|lang|breit|viel)\b", _I),
     Expected.QUANTITY),
    (re.compile(r"\b(?:wo|woher|wohin)\b|\b(?:in|aus|an|nach|bei)\s+welche[rmns]?\s+"
                r"(?:\w+\s+)?(?:" + _PLACE_NOUNS + r")\b|\bwelche[rmns]?\s+(?:\w+\s+)?(?:"
                + _PLACE_NOUNS + r")\b", _I),
     Expected.PLACE),
    (re.compile(r"\b(?:wer|wem|wen|wessen)\b|\b(?:von|mit|durch|für|bei)\s+wem\b|"
                r"\bwelche[rmns]?\s+(?:\w+\s+)?(?:" + _ORG_NOUNS + r")\b", _I), Expected.WHO),
]


_COST = re.compile(r"\b(?:kostet|kosten|gekostet|kostete|kosteten|preis|preise|gebühr\w*|teuer)\b",
                   _I)


def expected_answer(question: str) -> Expected:
    """What ``question`` asks for (its first question phrase decides; contact details
    and ratings are asked for by name wherever it stands, and "wie viel ... gekostet"
    wants an amount)."""
    earliest: tuple[int, Expected] | None = None
    for pattern, kind in _QUESTION_PATTERNS:
        match = pattern.search(question)
        if match and kind in (Expected.CONTACT, Expected.RATING):
            return kind
        if match and (earliest is None or match.start() < earliest[0]):
            earliest = (match.start(), kind)
    kind = earliest[1] if earliest else Expected.DESCRIPTION
    if kind in (Expected.COUNT, Expected.QUANTITY) and _COST.search(question):
        return Expected.AMOUNT
    return kind


# --- finders: character spans of expressions of each kind --------------------------------

_UNITS = r"(?:ein|zwei|drei|vier|fünf|sechs|sieben|acht|neun)"
_TENS = r"(?:zwanzig|dreißig|vierzig|fünfzig|sechzig|siebzig|achtzig|neunzig)"
_TEENS = (r"(?:zehn|elf|zwölf|dreizehn|vierzehn|fünfzehn|sechzehn|siebzehn|achtzehn|"
          r"neunzehn)")
# "zweihundertfünfzig", "dreiundzwanzig", "zwölf", "hunderte"; "eine Million" below
_NUMBER_WORDS = (
    rf"(?:{_UNITS}?(?:hundert|tausend)(?:und)?(?:{_UNITS}und{_TENS}|{_TENS}|{_TEENS}|{_UNITS})?|"
    rf"{_UNITS}und{_TENS}|{_TENS}|{_TEENS}|zwei|drei|vier|fünf|sechs|sieben|acht|neun|"
    r"dutzend|hunderte|tausende|dutzende|eine\s+million|eine\s+milliarde)"
)
# "711.988", "3,5", and thousands grouped by (thin) spaces as in "162 584"
_DIGITS = r"(?:\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:,\d+)?|\d+(?:[.,]\d+)*)(?:\s?[½¼¾])?"
_NUMBER = re.compile(rf"(?<![\w.,])(?:{_DIGITS}|{_NUMBER_WORDS}|[½¼¾])(?![\w])", _I)
_SCALE = r"(?:\s?(?:mio\.?|millionen|million|mrd\.?|milliarden|milliarde|tsd\.?|tausend))?"
_CURRENCY = re.compile(
    rf"(?:(?:€|eur\b|euro\b)\s?{_DIGITS}{_SCALE}|(?:{_DIGITS}|\b{_NUMBER_WORDS}|\b(?:eine?|einer))"
    rf"{_SCALE}\s?(?:€|eur\b|euro\b))", _I)
_PERCENT = re.compile(rf"(?:{_DIGITS}|{_NUMBER_WORDS})\s?(?:%|prozent\b|prozentpunkte\b)|"
                      r"\b(?:(?:ein|zwei|drei|vier)\s+)?(?:hälfte|drittel|viertel|fünftel|"
                      r"zehntel|mehrheit)\b", _I)
_TIME_UNIT = (r"(?:jahre|jahren|jahr|monate|monaten|monat|wochen|woche|tage|tagen|tag|stunden|"
              r"stunde|minuten|minute|sekunden|sekunde|semester|quartale)")
_DURATION = re.compile(rf"(?:{_DIGITS}|{_NUMBER_WORDS}|einem|einer|eines|ein|eine|halbes|"
                       rf"anderthalb)\s+{_TIME_UNIT}\b", _I)
_AGE = re.compile(rf"(?:{_DIGITS}|{_NUMBER_WORDS}){_SCALE}\s*(?:-?\s*jährig\w*|\s+jahre\s+"
                  r"alt\w*|\s+jahren\b)|\bjahrgang\s+\d{4}|\bgeboren\b", _I)
_UNIT = re.compile(rf"(?:{_DIGITS}|{_NUMBER_WORDS}){_SCALE}\s?(?:%|€|euro\b|km²|km|m²|m³|"
                   r"m\b|kg|t\b|tonnen|hektar|ha\b|kwh|mwh|gwh|kw|mw|gb|tb|prozent|stunden|"
                   r"tage|jahre|personen|menschen|einwohner\w*|stellen|mitarbeitende|"
                   r"beschäftigte)", _I)
_DATE = re.compile(
    rf"\b\d{{1,2}}\.\s?\d{{1,2}}\.\s?(?:\d{{4}}|\d{{2}})\b|\b\d{{4}}-\d{{2}}-\d{{2}}\b|"
    rf"(?:\b\d{{1,2}}\.\s?)?\b(?:{_MONTHS})\.?(?:\s+\d{{4}})?\b|"
    r"\b(?:frühjahr|frühling|sommer|herbst|winter|anfang|mitte|ende|jahreswechsel|"
    r"jahresende|jahresbeginn|quartal)\w*\s+(?:\d{4}(?:/\d{2,4})?)|"
    r"\b(?:19|20)\d{2}(?:/(?:19|20)?\d{2})?\b|"
    r"\b(?:im\s+jahre?|jahr|anno|seit|bis|ab|um|von|vor)\s+1\d{3}\b|"
    r"\b\d{1,2}\.\s+jahrhundert\w*|\b\w+en\s+jahrhundert\w*|\b\d{2,4}er(?:\s+jahre\w*)?\b|"
    r"\b(?:montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag)\b|"
    r"\b(?:seit|bis|ab)\s+(?:sofort|heute|kurzem|langem|jahren|monaten)\b", _I)
_YEAR = re.compile(r"^(?:19|20)\d{2}$")

# titles and roles that introduce a person's name
_TITLE = (r"(?:prof\.|professorin|professor|dr\.|frau|herr|ministerin|minister|"
          r"staatssekretärin|staatssekretär|bürgermeisterin|bürgermeister|"
          r"oberbürgermeisterin|oberbürgermeister|landrätin|landrat|cio|cdo|"
          r"geschäftsführerin|geschäftsführer|leiterin|leiter|direktorin|direktor|"
          r"präsidentin|präsident|sprecherin|sprecher|dezernentin|dezernent)")
_NAME = r"[A-ZÄÖÜ][\w\-'’]+"
_PERSON = re.compile(rf"\b{_TITLE}\s+(?:{_NAME}\s+){{0,3}}{_NAME}", _I)
_ORG = re.compile(
    r"\b(?:[A-ZÄÖÜ][\w\-]*\s+)?(?:GmbH|AG|e\.\s?V\.|mbH|KG|SE|Institut|Hochschule|"
    r"Universität|Ministerium|Stiftung|Verband|Zweckverband|Landesamt|Bundesamt|Amt)\b"
    r"(?:\s+(?:für|der|des)\s+(?:[A-ZÄÖÜ][\w\-]+\s?){1,4})?|"
    r"\b(?:Fraunhofer(?:-Institut)?|Firma|Unternehmen|Stadt|Kreis|Landkreis|Gemeinde|"
    r"Hansestadt|Bezirk)\s+" + _NAME + r"|\b[A-ZÄÖÜ]{2,}(?:[\-.][A-ZÄÖÜ0-9]+)*\b|"
    r"[„»\"][^“«\"]{2,60}[“«\"]")
_PLACE = re.compile(
    r"\b(?:in|im|aus|nach|bei|der\s+stadt|die\s+stadt|stadt|kreis|landkreis|gemeinde|"
    r"hansestadt|region|bundesland|kreises|landkreises)\s+((?:[A-ZÄÖÜ][\w\-]+)(?:\s+"
    r"(?:an\s+der|am|im|ob\s+der)\s+[A-ZÄÖÜ][\w\-]+)?)|"
    r"\b(?:Deutschland|Österreich|Schweiz|Europa|Nordrhein-Westfalen|NRW|Bayern|"
    r"Baden-Württemberg|Niedersachsen|Hessen|Sachsen|Sachsen-Anhalt|Thüringen|Brandenburg|"
    r"Berlin|Hamburg|Bremen|Schleswig-Holstein|Mecklenburg-Vorpommern|Rheinland-Pfalz|"
    r"Saarland|Ruhrgebiet)\b|"
    r"\b[A-ZÄÖÜ][a-zäöüß]+(?:stadt|dorf|burg|berg|hausen|heim|ingen|kirchen|feld|hagen|"
    r"bach|see|rode|stedt|beck|büttel|brück|brücken|furt|born|hafen)\b")
# words that start a sentence or a noun phrase, not a place ("in Zukunft", "im Rahmen")
_NOT_PLACES = frozenset("""
    zukunft rahmen mittelpunkt fokus vordergrund zusammenarbeit kürze form folge zeiten
    anschluss bereich bereichen betrieb einsatz grunde zuge gegensatz vergleich sinne fall
    falle verlauf laufe auftrag namen hinblick bezug blick einzelnen ganzen allgemeinen
    wesentlichen übrigen detail details praxis zusammenhang vorfeld moment jahr jahren
    kommunen verwaltungen verwaltung behörden städten gemeinden deutschland
    prof dr frau herr
""".split())


_ROLE_NOUN = (r"(?:\w*(?:leiter|leiterin|beauftragter?|beauftragten|referent|referentin|"
              r"direktor|direktorin|meister|meisterin|präsident|präsidentin|sprecher|"
              r"sprecherin|führer|führerin|dezernent|dezernentin|koordinator|koordinatorin|"
              r"professor|professorin|minister|ministerin|vorsitzender?|chef|chefin|"
              r"manager|managerin|berater|beraterin|gründer|gründerin|wissenschaftler|"
              r"wissenschaftlerin|sekretär|sekretärin|landrat|landrätin|vorstand|"
              r"verantwortliche[rn]?)|cio|cdo|cto|ceo)")
# "Bereichsleiter des Difu", "Leiterin des Bürgeramts", "CIO der Stadt Gelsenkirchen"
_ROLE = re.compile(
    rf"\b{_ROLE_NOUN}\b(?:\s+(?:für|der|des|im|beim|am|von|vom|bei)\s+(?:\S+\s+){{0,4}}?"
    r"\S+?(?=[,;.)]|\s+(?:und|sowie|ist|war|hat|sprach|eröffnete|betonte)\b|$))?", _I)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PHONE = re.compile(r"(?:\+\d{2}\s?|\b0)\d{2,5}[\s/-]?\d[\d\s-]{3,}\d\b")
_URL = re.compile(r"\bhttps?://\S+|\bwww\.\S+|\b[\w-]+\.(?:de|com|org|eu|net|nrw)\b")
_STREET = re.compile(r"\b[A-ZÄÖÜ][\w-]*(?:straße|strasse|str\.|weg|platz|allee|ring|gasse)\s+"
                     r"\d+\w?\b")
_HOURS = re.compile(r"\b\d{1,2}(?:[:.]\d{2})?\s?(?:-|–|bis)\s?\d{1,2}(?:[:.]\d{2})?\s?uhr\b|"
                    r"\b\d{1,2}(?:[:.]\d{2})?\s?uhr\b", _I)
_RATING = re.compile(rf"(?:{_DIGITS}|{_NUMBER_WORDS})\s?(?:von\s+(?:{_DIGITS}|{_NUMBER_WORDS})|"
                     r"sterne\w*|punkte\w*|%|prozent)\b|\bnote\s+\d(?:[.,]\d)?\b|\bplatz\s+"
                     r"\d+\b|\b\d+\.\s+platz\b", _I)


@dataclass(frozen=True)
class Found:
    start: int
    end: int
    kind: str


def find_expressions(sentence: str, expected: Expected) -> list[Found]:
    """Spans in ``sentence`` that could be the answer to a question of kind ``expected``,
    strongest kind first (empty for description questions)."""
    if expected is Expected.AMOUNT:
        return _spans(_CURRENCY, sentence, "amount")
    if expected is Expected.PERCENT:
        return _spans(_PERCENT, sentence, "percent")
    if expected is Expected.DURATION:
        return _spans(_DURATION, sentence, "duration")
    if expected is Expected.AGE:
        return _spans(_AGE, sentence, "age")
    if expected is Expected.QUANTITY:
        return _spans(_UNIT, sentence, "quantity") or _numbers(sentence)
    if expected is Expected.COUNT:
        return _numbers(sentence)
    if expected is Expected.DATE:
        return _spans(_DATE, sentence, "date")
    if expected is Expected.WHO:
        return _spans(_PERSON, sentence, "person") + _names(sentence) + _spans(_ORG, sentence,
                                                                                "organisation")
    if expected is Expected.PLACE:
        return _places(sentence)
    if expected is Expected.ROLE:
        return _spans(_ROLE, sentence, "role")
    if expected is Expected.CONTACT:
        return [found for pattern in (_EMAIL, _PHONE, _URL, _STREET, _HOURS)
                for found in _spans(pattern, sentence, "contact")]
    if expected is Expected.RATING:
        return _spans(_RATING, sentence, "rating")
    return []


def _spans(pattern: re.Pattern[str], text: str, kind: str) -> list[Found]:
    return [Found(m.start(), m.end(), kind) for m in pattern.finditer(text) if m.group(0).strip()]


def _numbers(sentence: str) -> list[Found]:
    """Counts: numbers that are not part of a date and not a year."""
    dates = _spans(_DATE, sentence, "date")
    found = []
    for match in _NUMBER.finditer(sentence):
        if _YEAR.match(match.group(0)) or any(d.start <= match.start() < d.end for d in dates):
            continue
        # "2." in "2. Auflage" or a list number is an ordinal, not a count
        if sentence[match.end() : match.end() + 1] == "." and match.group(0).isdigit():
            following = sentence[match.end() + 1 : match.end() + 3]
            if following[:1] == " " and following[1:2].isupper():
                continue
        found.append(Found(match.start(), match.end(), "number"))
    return found


_CAPITALISED = re.compile(r"\b[A-ZÄÖÜ][a-zäöüß]+(?:-[A-ZÄÖÜ][a-zäöüß]+)?\b")


def _names(sentence: str) -> list[Found]:
    """Two or three capitalised words in a row ("Ina Scharrenbach", "Tobias Urban"):
    German nouns are capitalised too, so pairs after an article ("Die Stadt") are left
    out, and at the very start of the sentence a pair whose first word is a common
    function word ("Im Rahmen", "Auch Kommunen")."""
    found = []
    words = list(_CAPITALISED.finditer(sentence))
    for first, second in pairwise(words):
        if sentence[first.end() : second.start()] != " ":
            continue
        if first.start() == 0 and _common_word(first.group(0).lower()):
            continue
        before = sentence[max(0, first.start() - 4) : first.start()].lower()
        if re.search(r"\b(?:der|die|das|den|dem|des|ein|eine|einer|einem)\s$", before):
            continue
        found.append(Found(first.start(), second.end(), "name"))
    return found


# German words at least this common (wordfreq's Zipf scale) are no first names: "Drei",
# "Stadt", "Zunächst" are above it; "Ina", "Tobias", "Alexander", "Julia" below
COMMON_WORD_ZIPF = 5.0


def _common_word(word: str) -> bool:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "de") >= COMMON_WORD_ZIPF


def _places(sentence: str) -> list[Found]:
    found = []
    for match in _PLACE.finditer(sentence):
        if match.lastindex:
            start, end = match.span(1)
            if sentence[start:end].lower() in _NOT_PLACES:
                continue
        else:
            start, end = match.span()
        found.append(Found(start, end, "place"))
    return found


_NEXT = re.compile(r"\b(?:nächste[nmrs]?|naechste[nmrs]?|kommende[nmrs]?|künftige[nmrs]?|"
                   r"demnächst|bald|wann\s+wieder|wieder\s+stattfinden|folgende[nmrs]?\s+"
                   r"(?:jahr|termin|tagung|veranstaltung))\b", _I)
_FUTURE_SENTENCE = re.compile(r"\b(?:wird|werden|soll|sollen|geplant|planen|plant|findet|"
                              r"künftig|voraussichtlich|angekündigt|vorgesehen|nächste[nmrs]?)\b",
                              _I)


# "Stadt Kassel" and "Landkreis Kassel" are two things: the kind of place pins the instance
_UNIT_WORDS = {"stadt": "stadt", "städte": "stadt", "hansestadt": "stadt", "kreis": "kreis",
               "kreises": "kreis", "landkreis": "kreis", "landkreises": "kreis",
               "kreisstadt": "stadt", "gemeinde": "gemeinde", "bezirk": "bezirk"}
_UNIT = re.compile(r"\b(" + "|".join(_UNIT_WORDS) + r")\s+(?:der\s+|des\s+)?([\w\-]{3,})", _I)
_ASKED_UNIT = re.compile(r"\b(?:welche[rmns]?|wie\s+viele?n?|jede[rmns]?|eine[rmns]?|"
                         r"andere[rmns]?)\s+$", _I)
_PIN_YEAR = re.compile(r"\b((?:19|20)\d{2})\b")


@dataclass(frozen=True)
class Pin:
    """Something a question names that picks one instance among similar ones: a year,
    or the kind of an administrative unit with its name ("Landkreis Kassel")."""

    kind: str  # "year" or "unit"
    value: str  # "2024", or the name ("kassel")
    unit: str = ""  # "stadt", "kreis", ... for units

    def holds(self, text: str) -> bool:
        """Whether ``text`` (a passage with its title, section and date) is about this
        instance: it names the year, or the unit with its kind ("Landkreis Stade" is not
        answered from a passage that only speaks of "Stade" or the "Hansestadt Stade")."""
        if self.kind == "year":
            return self.value in text
        return any(_UNIT_WORDS[m.group(1).lower()] == self.unit
                   and m.group(2).lower().startswith(self.value) for m in _UNIT.finditer(text))


def instance_pins(question: str) -> list[Pin]:
    pins = [Pin("year", m.group(1)) for m in _PIN_YEAR.finditer(question)]
    # a unit with its name ("Landkreis Stade": a name the documents capitalise, see
    # rag.answering.normalise), not the unit asked for ("welcher Kreis bietet ...")
    pins += [Pin("unit", m.group(2).lower(), _UNIT_WORDS[m.group(1).lower()])
             for m in _UNIT.finditer(question)
             if m.group(2)[:1].isupper()
             and not _ASKED_UNIT.search(question[: m.start()])]
    return pins


def asks_for_next(question: str) -> bool:
    """Whether the question asks about something coming ("wann ist die nächste Tagung")."""
    return bool(_NEXT.search(question))


def states_future(sentence: str, *, this_year: int) -> bool:
    """Whether ``sentence`` speaks of something to come: a year not yet past together with
    a word of the future ("findet 2027 statt", "ist für Herbst 2026 geplant")."""
    years = [int(y) for y in re.findall(r"\b(20\d{2})\b", sentence)]
    return any(year >= this_year for year in years) and bool(_FUTURE_SENTENCE.search(sentence))


def counted_noun(question: str) -> str | None:
    """The noun a "wie viele" question counts ("Wie viele Prototypen ..." -> "Prototypen")."""
    match = _COUNTED.search(question)
    return match.group(1) if match else None


# the counted noun is the first capitalised word after "wie viele" (adjectives between
# are lower-case: "wie viele neue Stellen")
_COUNTED = re.compile(r"(?i:\bwie\s*viele?n?)\s+(?:[a-zäöüß]\w*\s+){0,2}([A-ZÄÖÜ][\w\-]+)")


# the thing a question asks about: "Welches *Sprachmodell* steckt ...", "Wie war das
# *Wetter* ...", "In welche *Sprachen* ..."
_FOCUS = re.compile(
    r"(?i:\bwelche[rmns]?|\bwie\s+(?:war|ist|sind|waren|heißt|heißen|lautet|lauten|hoch\s+"
    r"ist|hoch\s+sind|groß\s+ist|viel\s+kostet|viel\s+kosten|viele?))\s+"
    r"(?:(?i:der|die|das|den|dem|des|ein|eine|einen)\s+)?(?:[a-zäöüß][\w\-]*\s+){0,2}"
    r"([A-ZÄÖÜ][\w\-]+)")


_CATEGORY = re.compile(r"(?:" + _ORG_NOUNS + "|" + _PLACE_NOUNS + r")", _I)


def focus_noun(question: str) -> str | None:
    """The noun a "welche/wie" question asks about, if it names one. Nouns that only
    name the kind of answer ("Welche *Stadt* ...", "Welche *Hochschulen* ...") are not a
    topic the documents must mention."""
    match = _FOCUS.search(question)
    if not match or _CATEGORY.fullmatch(match.group(1)):
        return None
    return match.group(1)
