"""Split German compounds into the words they are made of, by word frequency.

"Mobilitätsplanung" should find "Planung der Mobilität" and "Solarpflicht" should find
"Pflicht zur Solaranlage". A compound is split where its parts are much more common
words than the whole (Koehn & Knight 2003): the mean Zipf frequency of the parts must
beat the whole word's, with the usual German linking elements ("-s-", "-en-", "-n-")
allowed between them. Frequencies come from wordfreq's German list, which ships inside
the PyPI package (nothing is downloaded). Parts are split again, so three-part compounds
("Schadstofffreisetzungsprognose") come apart too.
"""

from __future__ import annotations

import math
from functools import lru_cache

MIN_WORD = 7  # shorter words are rarely compounds worth splitting
MIN_PART = 3
MIN_PART_ZIPF = 2.0  # about one occurrence in 10 million words
# very short parts are often suffixes or fragments ("ung", "setz"): they must be common
MIN_SHORT_PART_ZIPF = {3: 4.5, 4: 4.0}
# a common word is usually lexicalised ("Hochschule", "beispielsweise"): split it only
# when its parts are clearly more common than the whole
COMMON_WORD_ZIPF = 4.0
COMMON_WORD_MARGIN = 0.5
# linking elements and what using one costs: a reading without one wins a near tie
# ("Gewerbe|steuer", not "Gewerbe|s|teuer"), a short one beats a long one
LINKING = {"": 0.0, "s": 0.2, "n": 0.2, "e": 0.2, "es": 0.3, "en": 0.3, "er": 0.3, "ns": 0.3}


class CompoundSplitter:
    def __init__(self) -> None:
        from wordfreq import get_frequency_dict

        self._frequency = get_frequency_dict("de", wordlist="best")
        self.split = lru_cache(maxsize=200_000)(self._split)

    def zipf(self, word: str) -> float:
        frequency = self._frequency.get(word)
        return math.log10(frequency) + 9 if frequency else 0.0

    def _part_score(self, part: str, *, may_split: bool) -> float:
        """How good ``part`` is as a component: its own frequency, or, for a rare head
        that is itself a compound ("bauakten" in "Bauaktenarchiv"), that of its parts.
        Tails are not split here: German compounds branch to the left, and splitting rare
        tails mostly finds fragments ("hundes|teuer" -> "est", "euer")."""
        zipf = self.zipf(part)
        if zipf >= max(MIN_PART_ZIPF, MIN_SHORT_PART_ZIPF.get(len(part), 0.0)):
            return zipf
        if not may_split:
            return 0.0
        parts = self.split(part)
        if len(parts) > 1:
            return sum(self.zipf(p) for p in parts) / len(parts)
        return 0.0

    def _split(self, word: str) -> tuple[str, ...]:
        """The parts of lower-case ``word``; ``(word,)`` when it is not a compound."""
        if len(word) < MIN_WORD or not word.isalpha():
            return (word,)
        best: tuple[float, str, str] | None = None
        for cut in range(MIN_PART, len(word) - MIN_PART + 1):
            tail = word[cut:]
            tail_score = self._part_score(tail, may_split=False)
            if not tail_score:
                continue
            joint = word[:cut]
            for link, penalty in LINKING.items():
                if not joint.endswith(link):
                    continue
                head = joint[: len(joint) - len(link)]
                if len(head) < MIN_PART:
                    continue
                head_score = self._part_score(head, may_split=True)
                if not head_score:
                    continue
                score = (head_score + tail_score) / 2 - penalty
                if best is None or score > best[0]:
                    best = (score, head, tail)
        whole = self.zipf(word)
        margin = COMMON_WORD_MARGIN if whole >= COMMON_WORD_ZIPF else 0.0
        if best is None or best[0] <= whole + margin:
            return (word,)
        return (*self.split(best[1]), *self.split(best[2]))
