"""What the refusal model sees of a question and its top passages (``Evidence``, each
measurement described in ``rag.answering.refusal``), and how it is measured."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

from rag.answering.question_kinds import STATED_KINDS, Expected, focus_noun
from rag.answering.term_weights import numbers_in
from rag.providers.keyword import searchable_text

if TYPE_CHECKING:
    from rag.answering.extractive import Extract
    from rag.answering.term_weights import TermWeights
    from rag.retrieval import Scored

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


def _numbers_missing(question: str, text: str) -> bool:
    """Whether the question names a number the text does not contain, not even as part of
    a longer one ("70" is present in "1970er")."""
    present = numbers_in(text)
    return any(not any(number in other for other in present) for number in numbers_in(question))
