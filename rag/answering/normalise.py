"""Questions as staff type them, read the way the documents are written.

People type into a chat box in lower case, without a question mark, with colloquial
forms ("wieviel", "gibts", "mit was ..."), the odd typo and "ue" for "ü". Everything
downstream (retrieval, what the question asks for, the choice of sentences) reads the
normalised form; the question is shown as typed.

Three steps, none of which depends on capital letters in the question:
1. colloquial forms and contractions become their written form ("mit was" -> "womit");
2. a word the indexed documents never use and German at large hardly knows is replaced
   by the closest word the documents do use (umlauts typed as "ae/oe/ue/ss" first, then
   one edit, two for long words), so the vocabulary comes from the index itself;
3. words the documents write with a capital letter inside a sentence get one back
   (German nouns and names), so that rules which look for nouns and names see them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from rag.providers.keyword import Vocabulary

_I = re.IGNORECASE

# "mit was" -> "womit": the pronominal adverb the written question would use
_PRONOMINAL = {
    "mit": "womit", "vor": "wovor", "für": "wofür", "fuer": "wofür", "an": "woran",
    "auf": "worauf", "über": "worüber", "ueber": "worüber", "von": "wovon", "aus": "woraus",
    "nach": "wonach", "um": "worum", "zu": "wozu", "bei": "wobei", "durch": "wodurch",
    "in": "worin", "gegen": "wogegen", "unter": "worunter",
}
_PREPOSITION_WAS = re.compile(
    r"\b(" + "|".join(_PRONOMINAL) + r")\s+was\b(?!\s+für)", _I)
# verb + "s" for "es" ("gibts", "gibt's", "hats")
_VERB_ES = re.compile(
    r"\b(gibt|hat|ist|war|geht|ging|steht|kommt|macht|läuft|klappt|braucht|kostet|wird)"
    r"['’]?s\b", _I)
_REWRITES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bwie\s*viel(e|en|er|es)?\b", _I), r"wie viel\1"),
    (re.compile(r"\bwieso\b", _I), "warum"),
    (re.compile(r"\bis\b", _I), "ist"),
    (re.compile(r"\bisses\b", _I), "ist es"),
    (re.compile(r"\bnich\b", _I), "nicht"),
    (re.compile(r"\bnix\b", _I), "nichts"),
    (re.compile(r"\bnen\b", _I), "einen"),
    (re.compile(r"\bner\b", _I), "einer"),
    (re.compile(r"\bnem\b", _I), "einem"),
    (re.compile(r"\bham\b", _I), "haben"),
    (re.compile(r"\bwarn\b", _I), "waren"),
    (re.compile(r"\bwat\b", _I), "was"),
    (re.compile(r"\bwer\s+macht\s+(?=\w+\s+\w+\s+beruflich)", _I), "was macht "),
]

# a word German at large knows this well (wordfreq's Zipf scale) is no typo
KNOWN_ZIPF = 2.5
MIN_CORRECTED_LENGTH = 4
LONG_WORD = 8  # from this length, two edits are allowed
_UMLAUTS = (("ae", "ä"), ("oe", "ö"), ("ue", "ü"), ("ss", "ß"))
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
# nouns by their ending, for words the documents never use ("wie viele *anmeldungen*")
_NOUN_ENDING = re.compile(
    r"(?:ung|ungen|heit|heiten|keit|keiten|schaft|schaften|tion|tionen|tät|täten|nis|"
    r"nisse|ment|ments|ismus|ierung|ierungen|ling|linge|ität|ur|uren)$")
# a determiner or "wie viele" before a word the documents never use marks it as a noun
_NOUN_SLOT = re.compile(
    r"\b(?:wie\s+viele?n?|welche[rmns]?|der|die|das|den|dem|des|ein|eine|einen|einem|"
    r"einer|eines|kein|keine|zum|zur|vom|beim|im|am)\s+$", _I)


@dataclass(frozen=True)
class Normalised:
    text: str  # the question as the documents would write it
    corrections: tuple[tuple[str, str], ...] = ()  # (typed, read as)


def colloquial_to_written(text: str) -> str:
    """Colloquial question forms and contractions in their written form."""
    text = _PREPOSITION_WAS.sub(lambda m: _PRONOMINAL[m.group(1).lower()], text)
    text = _VERB_ES.sub(lambda m: f"{m.group(1)} es", text)
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)
    return text


class QuestionNormaliser:
    """Reads a typed question against the vocabulary of the indexed documents."""

    def __init__(self, vocabulary: Vocabulary, zipf: Callable[[str], float]) -> None:
        self.vocabulary = vocabulary
        self.zipf = zipf
        self._by_length: dict[int, list[str]] | None = None

    def normalise(self, question: str) -> Normalised:
        text = colloquial_to_written(question)
        corrections: list[tuple[str, str]] = []
        pieces: list[str] = []
        last = 0
        for match in _WORD.finditer(text):
            word = match.group(0)
            pieces.append(text[last : match.start()])
            read = self.correct(word)
            if read.lower() != word.lower():
                corrections.append((word, read))
            pieces.append(self._case(read, text[: match.start()]))
            last = match.end()
        pieces.append(text[last:])
        return Normalised("".join(pieces), tuple(corrections))

    # --- spelling -----------------------------------------------------------------------

    def correct(self, word: str) -> str:
        """``word``, or the word of the documents it is most likely a typo of."""
        lower = word.lower()
        if (len(lower) < MIN_CORRECTED_LENGTH or "-" in lower or not self.vocabulary.counts
                or self.vocabulary.count(lower)):
            return word
        for variant in _umlaut_variants(lower):
            if self.vocabulary.count(variant):
                return _like(word, variant)
        if self.zipf(lower) >= KNOWN_ZIPF:
            return word
        best = self._closest(lower)
        return _like(word, best) if best else word

    def _closest(self, word: str) -> str | None:
        limit = 2 if len(word) >= LONG_WORD else 1
        by_length = self._lengths()
        found: list[tuple[int, int, str]] = []
        for length in range(len(word) - limit, len(word) + limit + 1):
            for candidate in by_length.get(length, ()):
                # typos rarely hit the first letter; this also keeps the scan short
                if candidate[0] != word[0]:
                    continue
                distance = _edit_distance(word, candidate, limit)
                if distance <= limit:
                    found.append((distance, -self.vocabulary.count(candidate), candidate))
        if not found:
            return None
        found.sort()
        distance, _, best = found[0]
        # two equally close words of the documents: no way to tell which was meant
        if len(found) > 1 and found[1][0] == distance and found[1][1] == found[0][1]:
            return None
        return best

    def _lengths(self) -> dict[int, list[str]]:
        if self._by_length is None:
            by_length: dict[int, list[str]] = defaultdict(list)
            for word in self.vocabulary.counts:
                if len(word) >= MIN_CORRECTED_LENGTH - 1 and "-" not in word:
                    by_length[len(word)].append(word)
            self._by_length = dict(by_length)
        return self._by_length

    # --- capital letters ----------------------------------------------------------------

    def _case(self, word: str, before: str) -> str:
        if not word.islower():
            return word  # typed with capitals: as the user meant it
        usual = self.vocabulary.usual_form(word)
        if usual is not None:
            return usual if usual.lower() == word else word
        # a word the documents never use inside a sentence: a noun by its ending or its
        # position, unless it is one of the most common words ("und", "in")
        noun = bool(_NOUN_ENDING.search(word) or _NOUN_SLOT.search(before))
        return word[:1].upper() + word[1:] if noun and self.zipf(word) < 6.0 else word


def _umlaut_variants(word: str) -> list[str]:
    variants = {word}
    for plain, umlaut in _UMLAUTS:
        variants |= {v.replace(plain, umlaut) for v in variants if plain in v}
    variants.discard(word)
    return sorted(variants, key=len)


def _like(typed: str, word: str) -> str:
    """``word`` with the typed word's first-letter case."""
    return word[:1].upper() + word[1:] if typed[:1].isupper() else word


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (a swap of neighbours is one edit), or
    ``limit + 1`` as soon as it must exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if (i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]
                    and previous2):
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]
