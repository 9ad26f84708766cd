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
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.answering.answer_types import STATED_KINDS, Expected, focus_noun
from rag.answering.evidence import numbers_in
from rag.providers.keyword import searchable_text

if TYPE_CHECKING:
    from rag.answering.evidence import TermWeights
    from rag.answering.extractive import Extract
    from rag.retrieval import Scored

CALIBRATION_FILE = Path(__file__).resolve().parent / "refusal.json"
EVIDENCE_PASSAGES = 3
MARGIN_PASSAGES = 8


@dataclass(frozen=True)
class Evidence:
    """What the refusal model sees of a question and its top passages (in the order
    ``--json`` shows them); the fields marked as features are the model's inputs, the
    others flags that ``veto`` and the decision read. ``metadata["feature"]``: the
    feature's column in the calibration."""

    dense: float = field(metadata={"feature": 0})
    # how far the best passage stands out from the rest: a question the documents
    # answer has one passage about it, one they don't has many equally vague ones
    dense_margin: float = field(metadata={"feature": 9})
    ranker: float = field(metadata={"feature": 8})
    coverage: float = field(metadata={"feature": 1})
    gap: float = field(metadata={"feature": 2})
    sentence: float = field(metadata={"feature": 3})
    meaning: float = field(metadata={"feature": 4})
    typed_missing: float = field(metadata={"feature": 5})
    number_question: float = field()
    count_unattached: float = field()
    focus_missing: float = field(metadata={"feature": 6})
    number_missing: float = field(metadata={"feature": 7})
    pins_missing: float = field()
    next_missing: float = field()
    stated_question: float = field()

    def by_name(self) -> dict[str, float]:
        """Every measurement by its field name (for the calibration's rows)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def as_dict(self) -> dict[str, float]:
        return {name: round(float(value), 4) for name, value in self.by_name().items()}


# the refusal model's inputs, in the calibration's column order
FEATURES = tuple(f.name for f in sorted((f for f in fields(Evidence) if "feature" in f.metadata),
                                         key=lambda f: f.metadata["feature"]))


def measure_evidence(weights: TermWeights, question: str, results: Sequence[Scored],
                     extract: Extract) -> Evidence:
    """What the refusal model sees, from the top passages and their ranked sentences."""
    # a number the question names is checked as such (``number_missing``, year pins): it
    # says nothing about whether the passage speaks of the question's topic
    terms = [t for t in weights.terms(question, corpus=False) if not t.word.isdigit()]
    best_coverage, best_gap = 0.0, 1.0
    seen: set[str] = set()
    texts = []
    for result in results[:EVIDENCE_PASSAGES]:
        passage = result.passage
        text = searchable_text(passage.title, passage.location, passage.text)
        texts.append(text)
        stems = weights.stems_of(text)
        seen |= stems
        coverage = weights.coverage(terms, stems)
        if coverage >= best_coverage:
            best_coverage, best_gap = coverage, weights.gap(terms, stems)
    focus = focus_noun(question)
    focus_terms = weights.terms(focus, corpus=False) if focus else []
    # the head of "KI-Modelle" is "Modelle": the last word counts
    focus_missing = bool(focus_terms) and weights.covered_shares(focus_terms[-1:], seen)[0] < 0.5
    sentence = max((weights.coverage(terms, set(c.stems)) for c in extract.candidates[:5]),
                   default=0.0)
    meaning = max((c.semantic for c in extract.candidates if c.semantic is not None),
                  default=0.0)
    dense_scores = [r.dense_score or 0.0 for r in results[:MARGIN_PASSAGES]]
    top_dense = max(dense_scores[:EVIDENCE_PASSAGES], default=0.0)
    others = sorted(dense_scores, reverse=True)[1:]
    return Evidence(
        dense=top_dense,
        dense_margin=top_dense - (sum(others) / len(others) if others else top_dense),
        ranker=extract.best.score if extract.best else 0.0,
        coverage=best_coverage,
        gap=best_gap,
        sentence=sentence,
        meaning=meaning,
        typed_missing=float(not extract.typed_support()),
        number_question=float(extract.expected.is_number or extract.expected is Expected.DATE),
        count_unattached=float(not extract.counted_support()),
        focus_missing=float(focus_missing),
        number_missing=float(_numbers_missing(question, " ".join(texts))),
        pins_missing=float(extract.pins_missing),
        next_missing=float(extract.next_missing),
        stated_question=float(extract.expected in STATED_KINDS),
    )


def veto(values: dict[str, float]) -> str | None:
    """Why the evidence rules an answer out, if it does."""
    # stated kinds include every number kind and dates ("number_question")
    if values.get("typed_missing") and values.get("stated_question"):
        return "asks for a number, date or contact detail that no top sentence contains"
    if values.get("pins_missing"):
        return "pins a year or place (Stadt/Kreis) that no top passage is about"
    if values.get("next_missing"):
        return "asks for something coming, and no top sentence states a future date"
    if values.get("number_missing"):
        return "names a number none of the top passages contains"
    return None


def _numbers_missing(question: str, text: str) -> bool:
    """Whether the question names a number the text does not contain, not even as part of
    a longer one ("70" is present in "1970er")."""
    present = numbers_in(text)
    return any(not any(number in other for other in present) for number in numbers_in(question))


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
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))

        def model(entry: dict[str, Any]) -> LogisticModel:
            return LogisticModel(dict(entry["weights"]), float(entry["bias"]),
                                 float(entry["threshold"]), float(entry["sure"]))

        return cls(with_dense=model(data["with_dense"]),
                   without_dense=model(data["without_dense"]),
                   dense_model=str(data["embedding_model"]))

    def decide(self, evidence: Evidence, *, embedding_model: str) -> Decision:
        model = self.with_dense if embedding_model == self.dense_model else self.without_dense
        probability = model.probability(evidence)
        if veto(evidence.by_name()):
            return Decision(False, False, probability)
        sure = probability >= model.sure and not evidence.count_unattached
        return Decision(probability >= model.threshold, sure, probability)
