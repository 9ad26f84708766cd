"""Whether the documents answer a question: a calibrated decision on evidence that holds
for documents the calibration never saw.

The evidence describes how well the best retrieved text fits the question, in terms that
mean the same in any collection of German documents:
- ``dense``: the cosine similarity of question and best passage in the embedding model
  (depends on the model, not on the documents);
- ``coverage``: the share of the question's words the best passage contains, each word
  weighted by how specific it is in German at large (wordfreq), not by statistics of the
  indexed documents, which change whenever an admin adds some;
- ``gap``: the largest share of that weight carried by one word the passage lacks (the
  question hinges on something never mentioned: "Was *kostet* ...?");
- ``sentence``: the same coverage by the best single sentence, which is where an answer
  has to stand;
- ``meaning``: the cosine similarity of question and best sentence;
- ``typed_missing``: the question asks for a number, date, name or place and none of the
  top sentences contains one ("Wie viele Drohnen ...?" over a passage without numbers);
- ``focus_missing``: the noun the question asks about ("Welches *Sprachmodell* ...",
  "Wie war das *Wetter* ...") is in none of the top passages; everyday nouns weigh little
  in ``gap`` although the question hinges on them;
- ``number_missing``: a number the question names ("... 2026") is in none of them.
Two kinds of evidence refuse outright, whatever the rest says, because numbers and dates
are either stated or not: a question for a number, an amount or a date whose top
sentences hold none, and a question naming a number ("... 2026") that no top passage
contains. On the calibration questions they refuse no in-scope question and a fifth of
the out-of-scope ones (on XQuAD-de, 1-2 % of answerable questions). A "wie viele X"
question without a number right before an X is only a doubt (it also happens when
"150 Personen" answers "wie viele Menschen"): such an answer carries the "nicht sicher"
note. Otherwise a logistic model on the evidence gives the probability that the
documents answer the question.
``python -m evaluation.calibration.calibrate`` fits it on questions about the shipped corpus
that are not the evaluation's, measures it on documents it never saw, and records all of
it in ``rag/answering/refusal.json``. Between the refusal threshold and a higher
"sure" threshold KORA answers with a note that it is not sure.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from rag.answering.evidence import Evidence

CALIBRATION_FILE = Path(__file__).resolve().parent / "refusal.json"


def veto(evidence: Evidence) -> str | None:
    """Why the evidence rules an answer out, if it does."""
    # stated kinds include every number kind and dates ("number_question")
    if evidence.typed_missing and evidence.stated_question:
        return "asks for a number, date or contact detail that no top sentence contains"
    if evidence.pins_missing:
        return "pins a year or place (Stadt/Kreis) that no top passage is about"
    if evidence.next_missing:
        return "asks for something coming, and no top sentence states a future date"
    if evidence.number_missing:
        return "names a number none of the top passages contains"
    return None


@dataclass(frozen=True)
class LogisticModel:
    weights: dict[str, float]
    bias: float
    threshold: float  # below: refuse
    sure: float  # at or above: answer without a note

    def probability(self, evidence: Evidence) -> float:
        values = evidence.by_name()
        z = self.bias + sum(w * values[name] for name, w in self.weights.items())
        return 1 / (1 + math.exp(-z))


@dataclass(frozen=True)
class Decision:
    answer: bool
    sure: bool
    probability: float


class _ModelEntry(TypedDict):
    weights: dict[str, float]
    bias: float
    threshold: float
    sure: float


class _CalibrationFile(TypedDict):
    """The calibration file as evaluation/calibration writes it."""

    with_dense: _ModelEntry
    without_dense: _ModelEntry
    embedding_model: str


class RefusalModel:
    """P(the documents answer the question) from the evidence; one model per embedding
    model it was calibrated with, and one without the model-specific similarities for
    any other."""

    def __init__(self, *, with_dense: LogisticModel, without_dense: LogisticModel,
                 dense_model: str) -> None:
        self.with_dense = with_dense
        self.without_dense = without_dense
        self.dense_model = dense_model

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> RefusalModel:
        data: _CalibrationFile = json.loads(path.read_text(encoding="utf-8"))

        def model(entry: _ModelEntry) -> LogisticModel:
            return LogisticModel(dict(entry["weights"]), float(entry["bias"]),
                                 float(entry["threshold"]), float(entry["sure"]))

        return cls(with_dense=model(data["with_dense"]),
                   without_dense=model(data["without_dense"]),
                   dense_model=str(data["embedding_model"]))

    def decide(self, evidence: Evidence, *, embedding_model: str) -> Decision:
        model = self.with_dense if embedding_model == self.dense_model else self.without_dense
        probability = model.probability(evidence)
        if veto(evidence):
            return Decision(False, False, probability)
        sure = probability >= model.sure and not evidence.count_unattached
        return Decision(probability >= model.threshold, sure, probability)
