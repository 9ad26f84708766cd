"""Fit the refusal model on calibration questions, and measure it on documents it never saw.

    python -m evaluation.calibration.calibrate [--questions FILE] [--corpus DIR] [--out FILE]

Indexes the corpus into a temporary store with the configured embedder and computes the
evidence (``rag.answering.refusal``) for
- the in-scope questions of ``questions.yaml`` (label: answerable),
- its out-of-scope questions (label: not answerable),
- every in-scope question once more with the documents it is about left out of retrieval
  (label: not answerable): the near misses an admin's documents produce, where the
  topic is there but the fact is not. They count half, since a fact may also stand in a
  document the question does not name.
The golden set (``evaluation/golden.yaml``) is the evaluation and is not used here.

Two logistic models are fitted (with the embedding model's similarities, for the model
calibrated here; without them, for any other). The refusal threshold keeps 97 % of the
in-scope questions answered, since refusing answerable questions was what users met
most; the "sure" threshold is where at most 5 % of the unanswerable questions would
still be answered, and answers between the two carry a "nicht sicher" note.
Generalisation is measured by
leave-documents-out cross-validation: the model is fitted without any question about a
group of documents and tested on exactly those. Everything goes into ``refusal.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
ANSWERED_IN_SCOPE = 0.97  # the refusal threshold keeps this share of in-scope answered
SURE_FALSE_ANSWERS = 0.05  # above the "sure" threshold at most this share is unanswerable
SYNTHETIC_WEIGHT = 0.5
FOLDS = 5
WITHOUT_DENSE = ("coverage", "gap", "sentence", "typed_missing", "focus_missing",
                 "number_missing")


@dataclass
class Row:
    question: str
    label: int
    weight: float
    group: str  # the document the question is about (for leave-documents-out)
    kind: str  # in_scope, out_of_scope, left_out
    features: dict[str, float]


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, *, l2: float = 1.0
                 ) -> tuple[np.ndarray, float]:
    """Weighted L2-regularised logistic regression (Newton's method on standardised
    features; the coefficients are returned for the raw features)."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    beta = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[-1] = 0.0  # the intercept is not shrunk
    for _ in range(50):
        p = 1 / (1 + np.exp(-(z @ beta)))
        gradient = z.T @ (w * (p - y)) + penalty * beta
        hessian = (z * (w * p * (1 - p))[:, None]).T @ z + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    weights = beta[:-1] / scale
    return weights, float(beta[-1] - (mean / scale) @ beta[:-1])


def probabilities(x: np.ndarray, weights: np.ndarray, bias: float) -> np.ndarray:
    return 1 / (1 + np.exp(-(x @ weights + bias)))


def thresholds(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(refuse below, sure from) on probabilities ``p`` with labels ``y``."""
    answerable = np.sort(p[y == 1])
    refuse_below = float(answerable[int(np.floor((1 - ANSWERED_IN_SCOPE) * len(answerable)))])
    unanswerable = np.sort(p[y == 0])
    sure = float(unanswerable[min(len(unanswerable) - 1,
                                  int(np.ceil((1 - SURE_FALSE_ANSWERS) * len(unanswerable))))])
    return refuse_below, max(refuse_below, sure)


def outcome(answered: np.ndarray, rows: Sequence[Row]) -> dict[str, float]:
    """Shares answered and refused per kind of question, the vetoes applied."""
    from rag.answering import veto

    answered = answered & np.array([veto(r.features) is None for r in rows])
    kinds = np.array([r.kind for r in rows])
    result = {}
    for kind, wanted in (("in_scope", True), ("out_of_scope", False), ("left_out", False)):
        mask = kinds == kind
        if mask.any():
            share = answered[mask].mean() if wanted else (~answered[mask]).mean()
            name = "in_scope_answered" if wanted else f"{kind}_refused"
            result[name] = round(float(share), 4)
    return result


def cross_validate(rows: list[Row], columns: Sequence[str], folds: list[np.ndarray]
                   ) -> dict[str, float]:
    x, y, w = matrices(rows, columns)
    answered = np.zeros(len(rows), dtype=bool)
    for test in folds:
        train = np.setdiff1d(np.arange(len(rows)), test)
        weights, bias = fit_logistic(x[train], y[train], w[train])
        p_train = probabilities(x[train], weights, bias)
        refuse_below, _ = thresholds(p_train, y[train])
        answered[test] = probabilities(x[test], weights, bias) >= refuse_below
    return outcome(answered, rows)


def matrices(rows: Sequence[Row], columns: Sequence[str]
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.array([[r.features[c] for c in columns] for r in rows], dtype=float)
    return x, np.array([r.label for r in rows], float), np.array([r.weight for r in rows], float)


def random_folds(count: int) -> list[np.ndarray]:
    order = np.random.default_rng(7).permutation(count)
    return [order[fold::FOLDS] for fold in range(FOLDS)]


def document_folds(rows: list[Row]) -> list[np.ndarray]:
    """Folds that hold out whole documents: every question about a document (and its
    left-out variant) is tested by a model that never saw a question about it.
    Out-of-scope questions are spread over the folds."""
    groups = sorted({r.group for r in rows if r.group})
    order = np.random.default_rng(11).permutation(len(groups))
    fold_of = {groups[g]: i % FOLDS for i, g in enumerate(order)}
    folds: list[list[int]] = [[] for _ in range(FOLDS)]
    loose = 0
    for index, row in enumerate(rows):
        if row.group:
            folds[fold_of[row.group]].append(index)
        else:
            folds[loose % FOLDS].append(index)
            loose += 1
    return [np.array(fold) for fold in folds]


def collect(questions: Path, corpus: Path) -> tuple[list[Row], str]:
    from ingest import Ingestor
    from rag.answering import SentenceRanker, TermWeights, measure_evidence
    from rag.providers.embedding import Embedder
    from rag.providers.vectorstore import DataDir
    from rag.retrieval import Filters, Retriever
    from rag.settings import Settings

    data = yaml.safe_load(questions.read_text(encoding="utf-8"))
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="kora-calibrate-") as temporary:
        settings = Settings.load(data_dir=Path(temporary), corpus_dir=corpus, llm="none")
        embedder = Embedder.load(settings)
        data_dir = DataDir(settings)
        Ingestor(settings, embedder, data_dir).run([corpus])
        retriever = Retriever.open(settings, data_dir, embedder)
        weights = TermWeights(retriever.keyword, retriever.analyzer)
        ranker = SentenceRanker(weights, embedder)

        def evidence(question: str, filters: Filters | None = None) -> dict[str, float]:
            results = retriever.search(question, filters=filters)
            extract = ranker.rank(question, results)
            return measure_evidence(weights, question, results, extract).values

        try:
            for item in data["in_scope"]:
                docs = tuple(item["expected_docs"])
                rows.append(Row(item["question"], 1, 1.0, docs[0], "in_scope",
                                evidence(item["question"])))
                rows.append(Row(item["question"], 0, SYNTHETIC_WEIGHT, docs[0], "left_out",
                                evidence(item["question"], Filters(exclude_docs=docs))))
            for item in data["out_of_scope"]:
                rows.append(Row(item["question"], 0, 1.0, "", "out_of_scope",
                                evidence(item["question"])))
        finally:
            retriever.close()
    return rows, settings.embedding_model


def fit(rows: list[Row], columns: Sequence[str]) -> dict[str, Any]:
    x, y, w = matrices(rows, columns)
    weights, bias = fit_logistic(x, y, w)
    p = probabilities(x, weights, bias)
    refuse_below, sure = thresholds(p, y)
    return {
        "weights": {c: round(float(v), 4) for c, v in zip(columns, weights, strict=True)},
        "bias": round(bias, 4),
        "threshold": round(refuse_below, 4),
        "sure": round(sure, 4),
        "training": outcome(p >= refuse_below, rows),
        "cross_validation_5fold": cross_validate(rows, columns, random_folds(len(rows))),
        "leave_documents_out": cross_validate(rows, columns, document_folds(rows)),
    }


def main() -> None:
    from rag.answering import CALIBRATION_FILE, FEATURES
    from rag.offline import enforce_offline

    enforce_offline()
    parser = argparse.ArgumentParser(description="Fit KORA's refusal model.")
    parser.add_argument("--questions", type=Path, default=HERE / "questions.yaml")
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus")
    parser.add_argument("--out", type=Path, default=CALIBRATION_FILE)
    args = parser.parse_args()

    rows, model_name = collect(args.questions, args.corpus)
    result: dict[str, Any] = {
        "embedding_model": model_name,
        "calibrated_at": datetime.now(UTC).date().isoformat(),
        "data": {
            "questions": str(args.questions.resolve().relative_to(REPO))
            if args.questions.resolve().is_relative_to(REPO) else str(args.questions),
            "in_scope": sum(r.kind == "in_scope" for r in rows),
            "out_of_scope": sum(r.kind == "out_of_scope" for r in rows),
            "left_out": sum(r.kind == "left_out" for r in rows),
        },
        "method": "weighted logistic regression (L2 1.0 on standardised features); the "
                  f"refusal threshold keeps {ANSWERED_IN_SCOPE:.0%} of in-scope questions "
                  f"answered, the sure threshold lets at most {SURE_FALSE_ANSWERS:.0%} of "
                  "unanswerable ones through; left-out questions weigh "
                  f"{SYNTHETIC_WEIGHT}",
        "with_dense": fit(rows, FEATURES),
        "without_dense": fit(rows, WITHOUT_DENSE),
        "feature_means": {
            kind: {c: round(float(np.mean([r.features[c] for r in rows if r.kind == kind])), 4)
                   for c in FEATURES}
            for kind in ("in_scope", "out_of_scope", "left_out")
        },
    }
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "data"}, indent=2))


if __name__ == "__main__":
    main()
