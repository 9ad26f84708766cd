"""The learned choice of answer sentences: a logistic model over a sentence's features.

Which sentence answers a question is not weighed by hand: ``python -m
evaluation.calibration.calibrate`` fits the weights on questions written the way staff
type them (``evaluation/calibration/staff.yaml``, each with its answer sentence; never
the golden set) and stores them, with how well they did on documents left out of the
fit, in ``sentence_model.json`` beside this file. Two models share the features: a cheap
one without the embedding similarity picks the few sentences worth embedding, the full
one ranks those.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import TypedDict

SENTENCE_MODEL_FILE = Path(__file__).resolve().parent / "sentence_model.json"

# photo captions, image credits, bylines and datelines: the opening lines of a press page
_CAPTION = re.compile(
    r"^(?:foto|fotos|bild|bilder|grafik|abbildung|abb\.|quelle|copyright|text|von)\s*[:|]|"
    r"[©|]|\b(?:foto|bild|grafik)\s*:\s|\(\s*(?:foto|bild)\b|"
    r"^\W*(?:montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag)?,?\s*\d{1,2}\.\s*"
    r"\w+\s+\d{4},?\s*\d{1,2}[:.]\d{2}\s*uhr|\bpressestelle\b|\bpressemitteilung\b",
    re.IGNORECASE,
)


def looks_like_caption(sentence: str) -> bool:
    return bool(_CAPTION.search(sentence))


@dataclass(frozen=True)
class SentenceFeatures:
    """What the model knows of one candidate sentence for one question."""

    coverage: float  # question weight covered, word families counted half, context a quarter
    exact: float  # question weight covered by the sentence's own stems only
    context: float  # ... by the passage's title and section
    found: float  # holds an expression of the asked kind (number, date, name, role ...)
    counted: float  # a number right before the noun a "wie viele" question counts
    typed: float  # the question asks for a kind of expression
    rank: float  # the passage's rank among the retrieved ones (0 = best)
    first: float  # the passage's first sentence
    position: float  # how far into its passage (0..1, capped at the tenth sentence)
    words: float  # log of its length in words
    dense: float  # the passage's embedding similarity minus the best passage's
    caption: float  # reads like a caption, credit, byline or dateline
    gap: float  # the largest share of the question's weight one word it lacks carries
    before: float  # question weight the sentence before it covers (it may name the subject)
    anaphor: float  # opens with a pronoun or pronominal adverb ("Sie ...", "Dafür ...")
    best_coverage: float  # coverage minus the best candidate's coverage for this question
    semantic: float  # embedding similarity to the question minus the best sentence's

    def vector(self, *, with_semantic: bool) -> list[float]:
        values = list(astuple(self))
        return values if with_semantic else values[:-1]


FEATURE_NAMES = tuple(f.name for f in fields(SentenceFeatures))
CHEAP_FEATURES = FEATURE_NAMES[:-1]


class LogisticJSON(TypedDict):
    """One fitted logistic model as the model file holds it."""

    weights: dict[str, float]
    bias: float


@dataclass(frozen=True)
class Logistic:
    names: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float

    def probability(self, values: list[float]) -> float:
        z = self.bias + sum(w * v for w, v in zip(self.weights, values, strict=True))
        return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))

    @classmethod
    def from_json(cls, data: LogisticJSON) -> Logistic:
        names = tuple(data["weights"])
        return cls(names, tuple(float(data["weights"][n]) for n in names), float(data["bias"]))


@dataclass(frozen=True)
class SentenceModel:
    cheap: Logistic
    full: Logistic

    @classmethod
    def load(cls, path: Path = SENTENCE_MODEL_FILE) -> SentenceModel | None:
        """The fitted model, or None when none has been fitted for these features (the
        ranker then weighs by hand, as the calibration itself needs)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        cheap, full = Logistic.from_json(data["cheap"]), Logistic.from_json(data["full"])
        if cheap.names != CHEAP_FEATURES or full.names != FEATURE_NAMES:
            return None
        return cls(cheap, full)

    def cheap_score(self, features: SentenceFeatures) -> float:
        return self.cheap.probability(features.vector(with_semantic=False))

    def score(self, features: SentenceFeatures) -> float:
        return self.full.probability(features.vector(with_semantic=True))
