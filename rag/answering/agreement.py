"""Whether a generated answer answers what was asked, and names what the sources name.

A small model's answer can pass a citation check and still be worthless or wrong: it
repeats the question as a statement ("Die Plattform des Kreises ist online."), writes
nothing but a date and a marker, or names the wrong person of a passage that names two.
KORA computes the extractive answer anyway, so three cheap judgements on text decide
whether the generated answer may stand:

- ``non_answer``: the answer is only dates, markers or headings, restates the question
  without adding anything, or, asked for a number or a date, contains none that the
  question does not already contain;
- ``Reference``: the span the extractive evidence names for a typed question (who, when,
  how many, where, which organisation), when that evidence is strong: its lead sentence
  covers the question and names one span of the asked kind, or names several and one
  clause of it clearly speaks about the question ("Nur etwa 30 % der Kommunen
  experimentierten mit KI, und nur rund 10 % setzten sie aktiv ein." answers "aktiv
  einsetzen" with 10 %);
- ``Reference.found_in``: whether the generated text contains that span, allowing
  inflection and formatting ("5 Mio. €" is "rund 5 Millionen Euro", "28.11.2025" is "28.
  November 2025", "Gelsenkirchens" is "Stadt Gelsenkirchen", "BMWSB" is the ministry the
  source spells out before it in brackets).

The same matching (``contains_span``) serves the citation check: an answer span must
stand in the sentence that supports the claim.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from rag.answering.question_kinds import Expected, expected_answer, find_expressions

if TYPE_CHECKING:
    from rag.answering.extractive import Extract
    from rag.answering.term_weights import Term, TermWeights

# the extractive lead sentence must cover this share of the question (family coverage, as
# the ranker measures it) for its span to overrule the model's
STRONG_COVERAGE = 0.5
# with several spans of the asked kind in the lead sentence, the clause of the chosen one
# must cover this much more of the question than the clause of any other
CLAUSE_MARGIN = 0.15
# an answer whose content words add less than this share of weight to the question's
# restates it
RESTATED_NEW_WEIGHT = 0.15

_I = re.IGNORECASE
# where a German sentence divides into clauses: punctuation, brackets and the
# conjunctions that join main clauses or list members
_CLAUSE_BREAK = re.compile(r"[,;:–—()\[\]]|\s-\s|\s(?:und|sowie|oder|aber|während|"
                           r"bzw\.|sondern)\s", _I)
# a relative clause belongs to the noun before it: "Prof. Tobias Urban, der die
# Initiative koordiniert"
_RELATIVE = re.compile(r"^\s*(?:der|die|das|dem|den|deren|dessen|denen|welche[rsmn]?|"
                       r"wo|wobei|womit|worin)\b", _I)
# the noun of "Welche Behörde ...", "Welcher Professor ...": the kind of answer asked
# for, which the source sentence need not repeat
_ASKED_NOUN = re.compile(r"(?i:\bwelche[rmns]?)\s+(?:[a-zäöüß][\w-]*\s+)?([A-ZÄÖÜ][\w-]+)")
_TITLE_WORDS = frozenset("""
    prof prof. professor professorin dr dr. frau herr ministerin minister stadt kreis
    landkreis gemeinde hansestadt kommune region bezirk land firma unternehmen institut
    hochschule universität cio cdo leiterin leiter direktorin direktor sprecherin sprecher
    bürgermeister bürgermeisterin oberbürgermeister oberbürgermeisterin landrat landrätin
    in im aus nach bei der die das des den dem von vom für und am an zu zur zum ein eine
""".split())
_TOKEN = re.compile(r"[\wÄÖÜäöüß]+")
_INFLECTION = ("", "s", "es", "n", "en", "e", "er", "ern", "ns")

# --- numbers ------------------------------------------------------------------------------

_UNITS = {
    "ein": 1, "eins": 1, "eine": 1, "einen": 1, "einem": 1, "einer": 1, "zwei": 2,
    "drei": 3, "vier": 4, "fünf": 5, "sechs": 6, "sieben": 7, "acht": 8, "neun": 9,
    "zehn": 10, "elf": 11, "zwölf": 12, "dreizehn": 13, "vierzehn": 14, "fünfzehn": 15,
    "sechzehn": 16, "siebzehn": 17, "achtzehn": 18, "neunzehn": 19,
}
_TENS = {"zwanzig": 20, "dreißig": 30, "vierzig": 40, "fünfzig": 50, "sechzig": 60,
         "siebzig": 70, "achtzig": 80, "neunzig": 90}
_SCALES = {"tsd": 1e3, "tausend": 1e3, "mio": 1e6, "million": 1e6, "millionen": 1e6,
           "mrd": 1e9, "milliarde": 1e9, "milliarden": 1e9}
_NUMBER_WORD = re.compile(
    r"\b(?:(?P<unit>ein|zwei|drei|vier|fünf|sechs|sieben|acht|neun)und)?"
    r"(?P<word>" + "|".join(sorted([*_UNITS, *_TENS, "hundert"], key=len, reverse=True))
    + r")\b", _I)
_DIGITS = re.compile(r"(?<![\d.,])(\d{1,3}(?:[.\u00a0\u202f ]\d{3})+|\d+)(?:,(\d+))?(?![\d])"
                     r"(?:\.(?=\d))?")
_SCALE_AFTER = re.compile(r"\s?(tsd|tausend|mio|millionen|million|mrd|milliarden|"
                          r"milliarde)\b\.?", _I)
# words that are numbers only in a few uses ("ein Prototyp"): counted only with a scale
_ARTICLES = frozenset({"ein", "eine", "einen", "einem", "einer"})

_MONTH_NUMBERS = {
    "januar": 1, "jan": 1, "februar": 2, "feb": 2, "febr": 2, "märz": 3, "maerz": 3,
    "mär": 3, "april": 4, "apr": 4, "mai": 5, "juni": 6, "jun": 6, "juli": 7, "jul": 7,
    "august": 8, "aug": 8, "september": 9, "sep": 9, "sept": 9, "oktober": 10, "okt": 10,
    "november": 11, "nov": 11, "dezember": 12, "dez": 12,
}
_MONTH = "|".join(sorted(_MONTH_NUMBERS, key=len, reverse=True))
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})\.\s?(\d{1,2})\.\s?(\d{4}|\d{2})\b")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_WORD_DATE = re.compile(rf"(?:\b(\d{{1,2}})\.\s?)?\b({_MONTH})\b\.?(?:\s+(\d{{4}}))?", _I)
_YEAR = re.compile(r"(?<![\d.])((?:19|20)\d{2})(?![\d])")

Day = tuple[int | None, int | None, int | None]  # day, month, year


def number_values(text: str) -> set[float]:
    """The numbers ``text`` states, as values: "1.200" and "1200", "5 Mio." and "fünf
    Millionen", "10 %" and "zehn Prozent" are the same."""
    values: set[float] = set()
    for match in _DIGITS.finditer(text):
        whole = re.sub(r"[.\u00a0\u202f ]", "", match.group(1))
        value = float(f"{whole}.{match.group(2)}" if match.group(2) else whole)
        scale = _SCALE_AFTER.match(text, match.end())
        values.add(_rounded(value * (_SCALES[scale.group(1).lower()] if scale else 1)))
    for match in _NUMBER_WORD.finditer(text):
        word = match.group("word").lower()
        scale = _SCALE_AFTER.match(text, match.end())
        if word in _ARTICLES and not scale:
            continue
        value = float(_TENS.get(word) or _UNITS.get(word) or 100)
        if match.group("unit"):
            value += _UNITS[match.group("unit").lower()]
        values.add(_rounded(value * (_SCALES[scale.group(1).lower()] if scale else 1)))
    return values


def _rounded(value: float) -> float:
    return float(f"{value:.6g}")


def dates_in(text: str) -> list[Day]:
    """Dates as (day, month, year), each part None when not given."""
    return [day for _, day in _dates_with_spans(text)]


def _dates_with_spans(text: str) -> list[tuple[tuple[int, int], Day]]:
    found: list[tuple[tuple[int, int], Day]] = []
    taken: list[tuple[int, int]] = []
    for match in _NUMERIC_DATE.finditer(text):
        year = int(match.group(3))
        found.append((match.span(), (int(match.group(1)), int(match.group(2)),
                                     year + 2000 if year < 100 else year)))
        taken.append(match.span())
    for match in _ISO_DATE.finditer(text):
        found.append((match.span(), (int(match.group(3)), int(match.group(2)),
                                     int(match.group(1)))))
        taken.append(match.span())
    for match in _WORD_DATE.finditer(text):
        if _inside(match.span(), taken):
            continue
        day, month, written_year = match.group(1), match.group(2), match.group(3)
        found.append((match.span(), (int(day) if day else None, _MONTH_NUMBERS[month.lower()],
                                     int(written_year) if written_year else None)))
        taken.append(match.span())
    for match in _YEAR.finditer(text):
        if not _inside(match.span(), taken):
            found.append((match.span(), (None, None, int(match.group(1)))))
    return found


def figures_hold(claim: str, source: str) -> bool:
    """Whether every date and number of ``claim`` stands in ``source``, however either
    writes it ("28.11.2025" is "28. November 2025", "5 Mio." is "5 Millionen")."""
    days = _dates_with_spans(claim)
    written = dates_in(source)
    for _, day in days:
        if not any(_as_precise(day, other) for other in written):
            return False
    rest = claim
    for (start, end), _ in days:
        rest = rest[:start] + " " * (end - start) + rest[end:]
    source_values = number_values(source) | {float(d) for day in written for d in day
                                             if d is not None}
    return number_values(rest) <= source_values


def _inside(span: tuple[int, int], taken: Sequence[tuple[int, int]]) -> bool:
    return any(start <= span[0] < end for start, end in taken)


def _as_precise(reference: Day, other: Day) -> bool:
    """``other`` states every part ``reference`` states, the same."""
    return all(a is None or a == b for a, b in zip(reference, other, strict=True))


# --- names and places ---------------------------------------------------------------------


def name_tokens(span: str) -> list[str]:
    """The words that say which one a name means ("Prof. Tobias Urban" -> Tobias, Urban;
    "Stadt Gelsenkirchen" -> Gelsenkirchen)."""
    return [t for t in _TOKEN.findall(span) if t.lower() not in _TITLE_WORDS and len(t) > 1
            and not t.isdigit()]


def _word_matches(wanted: str, word: str) -> bool:
    """Same word, allowing German inflection endings; an acronym in capitals matches only
    itself, and a capitalised name does not match a word in capitals ("Urban" is not the
    "URBAN" of "URBAN.KI")."""
    if wanted.isupper() or word.isupper():
        return wanted == word
    low, other = wanted.lower(), word.lower()
    if any(other == low + ending for ending in _INFLECTION):
        return True
    # "Westfälische Hochschule" / "Westfälischen Hochschule": a shared stem of six letters
    return len(low) >= 7 and len(other) >= 7 and low[:-2] == other[: len(low) - 2]


def _has_words(tokens: Sequence[str], text: str, *, share: float = 1.0) -> bool:
    if not tokens:
        return False
    words = _TOKEN.findall(text)
    present = sum(any(_word_matches(t, w) for w in words) for t in tokens)
    return present >= max(1, round(share * len(tokens) + 1e-9))


def contains_span(text: str, span: str, expected: Expected, *,
                  aliases: Sequence[str] = ()) -> bool:
    """Whether ``text`` states ``span`` (an answer of kind ``expected``), allowing
    inflection and formatting."""
    if expected.is_number:
        wanted = number_values(span)
        if wanted:
            return bool(wanted & number_values(text))
    if expected is Expected.DATE:
        days = dates_in(span)
        if days:
            # as precise as the source: "November 2025" does not say "28. November 2025"
            written = dates_in(text)
            return any(_as_precise(day, other) for day in days for other in written)
    tokens = name_tokens(span)
    if not tokens:
        return span.strip().lower() in text.lower()
    if _has_words(tokens, text):
        return True
    if expected is Expected.WHO and len(tokens) >= 2 and _has_words(tokens[-1:], text):
        return True  # "Prof. Urban" is "Prof. Tobias Urban"
    return any(_has_words(name_tokens(alias), text, share=0.5) for alias in aliases)


def key_terms(question: str, weights: TermWeights) -> list[Term]:
    """The question's content words without the noun that only names the kind of the
    answer ("Welche *Behörde* fördert ...")."""
    terms = weights.terms(question)
    match = _ASKED_NOUN.search(question)
    if match and expected_answer(question).is_typed:
        asked = match.group(1).lower()
        terms = [t for t in terms if t.word != asked]
    return terms


def in_family(stem: str, stems: set[str] | frozenset[str]) -> bool:
    """The stem, or one of its family: the same first five letters ("warnen" ~
    "Warnungen"), also after the "ge" of a participle ("gefördert" ~ "fördert"), or a
    short stem that begins the other ("setz" ~ "setzt")."""
    if stem in stems:
        return True
    if len(stem) < 5:
        return len(stem) >= 4 and any(other.startswith(stem) and len(other) <= len(stem) + 2
                                      for other in stems)
    forms = {stem[:5]}
    if stem.startswith("ge") and len(stem) >= 7:
        forms.add(stem[2:7])
    for other in stems:
        if len(other) < 5:
            continue
        if other[:5] in forms or (other.startswith("ge") and other[2:7] in forms):
            return True
    return False


def family_share(terms: Sequence[Term], stems: set[str] | frozenset[str]) -> float:
    """The share of the terms' weight that ``stems`` covers, words of one family and
    all parts of a compound counting as the word."""
    total = sum(t.weight for t in terms)
    if total == 0:
        return 1.0
    covered = sum(t.weight for t in terms if in_family(t.stems[0], stems) or (
        len(t.stems) > 1 and all(p in stems for p in t.stems[1:])))
    return covered / total


# --- clauses ------------------------------------------------------------------------------


def clause_spans(sentence: str) -> list[tuple[int, int]]:
    """Character spans of a sentence's clauses; a relative clause joins the clause
    before it."""
    cuts = [0, *(m.start() for m in _CLAUSE_BREAK.finditer(sentence)), len(sentence)]
    spans: list[tuple[int, int]] = []
    for start, end in pairwise(cuts):
        piece = sentence[start:end].lstrip(",;:–—()[] -")
        if not piece.strip():
            continue
        piece_start = end - len(piece)
        if spans and _RELATIVE.match(piece):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((piece_start, end))
    return spans or [(0, len(sentence))]


# --- the extractive reference ---------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """The answer span the extractive evidence names, strong enough to overrule a
    generated answer that names another."""

    expected: Expected
    span: str  # as the source writes it
    sentence: str  # the extractive lead sentence
    aliases: tuple[str, ...] = ()  # the same thing spelled out ("BMWSB")

    def found_in(self, text: str) -> bool:
        return contains_span(text, self.span, self.expected, aliases=self.aliases)


def reference(extract: Extract, weights: TermWeights) -> Reference | None:
    """The span of the asked kind in the extractive lead sentence, when the evidence is
    strong: the sentence covers the question, and it names one such span, or one whose
    clause covers the question clearly better than the others'."""
    best = extract.best
    expected = extract.expected
    if not expected.is_typed or best is None or not best.found:
        return None
    if best.coverage < STRONG_COVERAGE:
        return None
    text = best.text
    clauses = clause_spans(text)
    terms = extract.terms
    hits = _term_positions(text, terms, weights)
    scored: dict[str, tuple[float, int, str]] = {}
    for found in best.found:
        span = text[found.start : found.end].strip(" ,.;:")
        if not span:
            continue
        clause = next(((s, e) for s, e in clauses if s <= found.start < e), (0, len(text)))
        score = family_share(terms, weights.stems_of(text[clause[0] : clause[1]]))
        distance = min((abs(hit - found.start) if hit < found.start else abs(hit - found.end)
                        for hit in hits), default=len(text))
        key = _span_key(span, expected)
        if key not in scored or (score, -distance) > scored[key][:2]:
            scored[key] = (score, -distance, span)
    if not scored:
        return None
    ranked = sorted(scored.values(), key=lambda item: (-item[0], -item[1]))
    if len(ranked) > 1:
        (score, closeness, _), (second, second_closeness, _) = ranked[0], ranked[1]
        clearly = score - second >= CLAUSE_MARGIN or (
            # in the same clause: the one right beside the question's words
            score == second and -closeness * 2 <= -second_closeness)
        if not clearly:
            return None  # several answers of the kind, none clearly the asked one
    span = ranked[0][2]
    return Reference(expected, span, text, _aliases(span, text))


def _term_positions(text: str, terms: Sequence[Term], weights: TermWeights) -> list[int]:
    """Character offsets of the words of ``text`` that are question terms."""
    stems = {t.stems[0] for t in terms}
    positions = []
    for match in _TOKEN.finditer(text):
        own = weights.stems_of(match.group(0))
        if own and any(in_family(s, stems) for s in own):
            positions.append(match.start())
    return positions


def _span_key(span: str, expected: Expected) -> str:
    if expected.is_number and number_values(span):
        return " ".join(str(v) for v in sorted(number_values(span)))
    if expected is Expected.DATE and dates_in(span):
        return " ".join(str(d) for d in dates_in(span))
    return " ".join(t.lower() for t in name_tokens(span)) or span.lower()


def _aliases(span: str, sentence: str) -> tuple[str, ...]:
    """An acronym in brackets after a spelled-out name: the name is the same answer."""
    at = sentence.find(f"({span})")
    if at <= 0 or not span.isupper():
        return ()
    before = sentence[:at].rstrip()
    # the noun phrase before the bracket: back to the preposition or article that opens it
    words = before.split()
    phrase: list[str] = []
    for word in reversed(words[-8:]):
        if word.lower() in ("vom", "von", "der", "die", "das", "dem", "den", "des", "beim"):
            break
        phrase.insert(0, word)
    return (" ".join(phrase),) if phrase else ()


# --- non-answers ----------------------------------------------------------------------------

_MARKUP = re.compile(r"^\s*(?:#+|[-*•–]|\d{1,2}[.)])\s*|\*\*|__|`|[\[\]()]")


def is_marker(sentence: str, weights: TermWeights) -> bool:
    """Only dates, numbers, brackets and markup, or a Markdown heading."""
    if sentence.lstrip().startswith("#"):
        return True
    rest = _MARKUP.sub(" ", sentence)
    for found in find_expressions(rest, Expected.DATE):
        rest = rest[: found.start] + " " * (found.end - found.start) + rest[found.end :]
    rest = re.sub(r"\d+(?:[.,:/-]\d+)*", " ", rest)
    return not weights.terms(rest, general=False)


def news(expression: str, question_stems: set[str], weights: TermWeights) -> bool:
    """Whether an expression says something the question does not: "2025" answers
    nothing about "die Jahrestagung 2025"."""
    stems = weights.stems_of(" ".join(name_tokens(expression)))
    values = number_values(expression)
    if values and not stems:
        return True
    return not stems or bool(stems - question_stems)


def asked_expressions(sentences: Iterable[str], question: str, expected: Expected,
                      weights: TermWeights) -> list[str]:
    """Expressions of the asked kind in ``sentences`` that the question does not contain."""
    question_stems = weights.stems_of(question)
    question_values = number_values(question)
    question_days = dates_in(question)
    found = []
    for sentence in sentences:
        for expression in find_expressions(sentence, expected):
            text = sentence[expression.start : expression.end].strip(" ,.;:")
            if expected.is_number and number_values(text) and number_values(text) <= \
                    question_values:
                continue
            if expected is Expected.DATE and dates_in(text) and all(
                    day in question_days for day in dates_in(text)):
                continue
            if not expected.is_number and expected is not Expected.DATE and not news(
                    text, question_stems, weights):
                continue
            found.append(text)
    return found


# kinds whose finders are precise enough that an answer without such an expression is
# no answer (names and places are written too many ways to decide that)
_PRECISE_KINDS = frozenset({Expected.COUNT, Expected.AMOUNT, Expected.PERCENT,
                            Expected.DURATION, Expected.AGE, Expected.QUANTITY,
                            Expected.DATE})


def non_answer(sentences: Sequence[str], question: str, expected: Expected,
               weights: TermWeights) -> str | None:
    """Why ``sentences`` (the supported sentences of a generated answer) do not answer
    ``question``, or None when they may: "markers" (only dates, markers or headings),
    "restated" (nothing beyond the question's words), "kind" (no number or date where
    one is asked for)."""
    asked = asked_expressions(sentences, question, expected, weights) if expected.is_typed \
        else []
    if all(is_marker(s, weights) for s in sentences) and not asked:
        return "markers"
    if expected in _PRECISE_KINDS and not asked:
        return "kind"
    if not asked and _restates(sentences, question, weights):
        return "restated"
    return None


def _restates(sentences: Sequence[str], question: str, weights: TermWeights) -> bool:
    question_stems = weights.stems_of(question)
    terms: list[Term] = weights.terms(" ".join(sentences))
    total = sum(t.weight for t in terms)
    if total == 0:
        return True
    new = sum(t.weight for t in terms if not in_family(t.stems[0], question_stems)
              and not (len(t.stems) > 1 and all(in_family(p, question_stems)
                                                  for p in t.stems[1:])))
    return new / total < RESTATED_NEW_WEIGHT
