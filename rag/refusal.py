"""Whether the documents cover a question: a calibrated decision, not a cosine cut-off.

Retrieval evidence go into a logistic model:
- ``coverage``: the share of the question's content words that the best of the top
  passages contains, each word weighted by its corpus IDF times its specificity in
  German at large (``rag.evidence``); ``corpus_coverage``: the same with the corpus IDF
  alone. Words the corpus never uses weigh most.
- ``gap``: the largest share of the question's weight carried by one word that the best
  passage lacks (questions that hinge on an unmentioned detail: "Was *kostet* ...?").
- ``dense``: the cosine similarity of the best passage (model-specific, so it is used
  only with the model the calibration was made with).
The coefficients come from ``python -m rag.calibration.calibrate``, which fits them on
the in-scope and out-of-scope questions in ``rag/calibration/questions.yaml`` against the
shipped corpus and records the data, date and accuracy in ``rag/calibration/refusal.json``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration" / "refusal.json"


@dataclass(frozen=True)
class EvidenceFeatures:
    coverage: float
    dense: float
    gap: float
    corpus_coverage: float

    def as_dict(self) -> dict[str, float]:
        return {name: round(float(getattr(self, name)), 4)
                for name in ("coverage", "corpus_coverage", "gap", "dense")}


@dataclass(frozen=True)
class LogisticModel:
    weights: dict[str, float]
    bias: float
    threshold: float

    def probability(self, features: EvidenceFeatures) -> float:
        values = features.as_dict()
        z = self.bias + sum(w * values[name] for name, w in self.weights.items())
        return 1 / (1 + math.exp(-z))


class RefusalModel:
    """P(the corpus answers the question) from retrieval evidence."""

    def __init__(self, *, with_dense: LogisticModel, coverage_only: LogisticModel,
                 dense_model: str) -> None:
        self.with_dense = with_dense
        self.coverage_only = coverage_only
        self.dense_model = dense_model

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> RefusalModel:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))

        def model(entry: dict[str, Any]) -> LogisticModel:
            return LogisticModel(dict(entry["weights"]), float(entry["bias"]),
                                 float(entry["threshold"]))

        return cls(
            with_dense=model(data["with_dense"]),
            coverage_only=model(data["coverage_only"]),
            dense_model=str(data["embedding_model"]),
        )

    def answerable(self, features: EvidenceFeatures, *, embedding_model: str) -> tuple[bool, float]:
        model = self.with_dense if embedding_model == self.dense_model else self.coverage_only
        probability = model.probability(features)
        return probability >= model.threshold, probability
