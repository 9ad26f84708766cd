"""Fit the sentence ranker and the refusal model on training questions, and measure both
on documents they never saw.

    python -m evaluation.calibration.calibrate [--questions FILE ...] [--corpus DIR] [--out FILE]

Indexes the corpus into a temporary store with the configured embedder. The training
questions are ``questions.yaml`` and ``staff.yaml`` (questions as staff type them, each
in-scope one with its answer sentence); the golden set (``evaluation/golden.yaml``) is
the evaluation and is never used here.

1. The sentence ranker (``rag.answering.sentence_model``): every candidate sentence of
   every in-scope question whose answer sentence was retrieved, labelled by whether it
   holds the answer; fitted listwise, stored in ``sentence_model.json``.
2. The refusal model (``rag.answering.refusal``), on the evidence the fitted ranker gives:
   - the in-scope questions (label: answerable),
   - the out-of-scope questions (label: not answerable),
   - every in-scope question once more with the documents it is about left out of
     retrieval (label: not answerable): the near misses an admin's documents produce,
     where the topic is there but the fact is not.
   Two logistic models are fitted (with the embedding model's similarities, for the model
   calibrated here; without them, for any other). The refusal threshold keeps 95 % of
   the in-scope questions answered; the "sure" threshold is where at most 5 % of the
   unanswerable questions would still be answered, and answers between the two carry a
   "nicht sicher" note.
Generalisation is measured by leave-documents-out cross-validation: a model is fitted
without any question about a group of documents and tested on exactly those. Everything
goes into ``refusal.json`` and ``sentence_model.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NotRequired, TypedDict, cast

import numpy as np
import yaml

from rag.jsontypes import JSONObject

if TYPE_CHECKING:
    from rag.answering import Evidence

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
# the refusal threshold keeps this share of in-scope answered (0.97 answered more of
# XQuAD-de but refused only half of its questions whose paragraph was gone)
ANSWERED_IN_SCOPE = 0.95
SURE_FALSE_ANSWERS = 0.05  # above the "sure" threshold at most this share is unanswerable
SYNTHETIC_WEIGHT = 1.0
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
    evidence: Evidence


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

    answered = answered & np.array([veto(r.evidence) is None for r in rows])
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
    x = np.array([[getattr(r.evidence, c) for c in columns] for r in rows], dtype=float)
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


@dataclass
class SentenceRow:
    """One candidate sentence for one training question: its features and whether it
    holds the answer."""

    question: int  # index of the question (candidates of one question belong together)
    group: str
    label: int
    features: list[float]


class TrainingItem(TypedDict):
    """One question of the training files, in the schema ``load_questions`` gives."""

    question: str
    docs: NotRequired[list[str]]
    answer: NotRequired[str | None]
    key_facts: NotRequired[list[list[str]]]


def load_questions(paths: Sequence[Path]) -> tuple[list[TrainingItem], list[TrainingItem]]:
    """In-scope and out-of-scope items of the training files, in one schema: ``docs``
    (the documents a question is about), ``answer`` (the answer sentence, where given),
    ``key_facts``."""
    in_scope: list[TrainingItem] = []
    out_of_scope: list[TrainingItem] = []
    for path in paths:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for item in data.get("in_scope", []):
            docs = item.get("expected_docs") or [item["doc"]]
            in_scope.append({"question": item["question"], "docs": list(docs),
                             "answer": item.get("answer"),
                             "key_facts": item.get("key_facts") or []})
        out_of_scope.extend({"question": item["question"]}
                            for item in data.get("out_of_scope", []))
    return in_scope, out_of_scope


def _plain(text: str) -> str:
    return " ".join(text.replace("**", "").replace("__", "").lower().split())


def holds_answer(sentence: str, item: TrainingItem) -> bool:
    """Whether a candidate sentence is the answer sentence of a training item: it
    contains the given answer text (or is part of it), or else all its key facts."""
    text = _plain(sentence)
    answer = item.get("answer")
    if answer:
        wanted = _plain(answer)
        return wanted in text or (len(text) >= 30 and text in wanted)
    facts = item.get("key_facts") or []
    return bool(facts) and all(any(_plain(v) in text for v in fact) for fact in facts)


def collect(question_files: Sequence[Path], corpus: Path
            ) -> tuple[list[SentenceRow], list[Row], JSONObject, str]:
    """Sentence rows for the ranker and, with the ranker fitted on them, evidence rows
    for the refusal model."""
    from ingest import Ingestor
    from rag.answering import (
        COUNT_SOURCE_PASSAGES,
        SENTENCE_MODEL_FILE,
        QuestionNormaliser,
        SentenceModel,
        SentenceRanker,
        TermWeights,
        measure_evidence,
        open_kora,
    )
    from rag.providers.keyword import Vocabulary
    from rag.retrieval import Filters
    from rag.settings import Settings

    in_scope, out_of_scope = load_questions(question_files)
    sentence_rows: list[SentenceRow] = []
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="kora-calibrate-") as temporary:
        settings = Settings.load(data_dir=Path(temporary), corpus_dir=corpus, llm="none")
        with open_kora(settings) as kora:
            Ingestor.over(kora).run([corpus])
            retriever, embedder = kora.retriever, kora.embedder
            weights = TermWeights(retriever.keyword, retriever.analyzer)
            vocabulary = retriever.keyword.vocabulary if retriever.keyword else Vocabulary({})
            normaliser = QuestionNormaliser(vocabulary, weights.zipf)

            def read(question: str) -> str:
                return normaliser.normalise(question).text

            # 1. the sentence model, from every candidate with its similarity
            teacher = SentenceRanker(weights, embedder)
            baseline_top1: list[float] = []
            for number, item in enumerate(in_scope):
                question = read(item["question"])
                results = retriever.search(question, top_k=COUNT_SOURCE_PASSAGES)
                extract = teacher.rank(question, results, embed_all=True)
                labels = [int(holds_answer(c.text, item)) for c in extract.candidates]
                if not any(labels):
                    continue  # the answer sentence was not retrieved: nothing to rank
                typed = extract.expected.is_typed
                embedded = [c.semantic for c in extract.candidates if c.semantic is not None]
                best, floor = max(embedded, default=0.0), min(embedded, default=0.0)
                top = max(c.coverage for c in extract.candidates)
                for candidate, label in zip(extract.candidates, labels, strict=True):
                    features = candidate.features(typed=typed, best_meaning=best, floor=floor,
                                                  best_coverage=top)
                    sentence_rows.append(SentenceRow(number, item["docs"][0], label,
                                                     features.vector(with_semantic=True)))
                hand = SentenceRanker(weights, embedder).rank(question, results).best
                baseline_top1.append(float(hand is not None and holds_answer(hand.text, item)))
            model_data = fit_sentence_model(sentence_rows)
            model_data["hand_weighted_top1"] = round(float(np.mean(baseline_top1)), 4)
            SENTENCE_MODEL_FILE.write_text(json.dumps(model_data, ensure_ascii=False, indent=2)
                                           + "\n", encoding="utf-8")
            ranker = SentenceRanker(weights, embedder, SentenceModel.load())

            # 2. the refusal model, on the evidence the fitted ranker gives
            def evidence(question: str, filters: Filters | None = None) -> Evidence:
                question = read(question)
                results = retriever.search(question, top_k=COUNT_SOURCE_PASSAGES,
                                           filters=filters)
                extract = ranker.rank(question, results)
                return measure_evidence(weights, question, results, extract)

            for item in in_scope:
                docs = tuple(item["docs"])
                rows.append(Row(item["question"], 1, 1.0, docs[0], "in_scope",
                                evidence(item["question"])))
                rows.append(Row(item["question"], 0, SYNTHETIC_WEIGHT, docs[0], "left_out",
                                evidence(item["question"], Filters(exclude_docs=docs))))
            for item in out_of_scope:
                rows.append(Row(item["question"], 0, 1.0, "", "out_of_scope",
                                evidence(item["question"])))
    return sentence_rows, rows, model_data, settings.embedding_model


def _top1(rows: list[SentenceRow], score: np.ndarray) -> float:
    """Share of questions whose best-scored candidate holds the answer."""
    best: dict[int, tuple[float, int]] = {}
    for row, value in zip(rows, score, strict=True):
        if row.question not in best or value > best[row.question][0]:
            best[row.question] = (float(value), row.label)
    return round(float(np.mean([label for _, label in best.values()])), 4)


def fit_listwise(x: np.ndarray, y: np.ndarray, question: np.ndarray, *, l2: float = 1.0
                 ) -> np.ndarray:
    """Weights that make the answer sentences the likeliest of their question's
    candidates (a softmax over each question's candidates, L2-regularised, standardised
    features; returned for the raw features). Measured against a plain logistic model on
    the same features: leave-documents-out top-1 0.71 against 0.69."""
    from scipy.optimize import minimize

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    groups, index = np.unique(question, return_inverse=True)

    def loss(beta: np.ndarray) -> tuple[float, np.ndarray]:
        s = z @ beta
        top = np.full(len(groups), -np.inf)
        np.maximum.at(top, index, s)
        e = np.exp(s - top[index])
        total = np.zeros(len(groups))
        np.add.at(total, index, e)
        p = e / total[index]
        positive = np.zeros(len(groups))
        np.add.at(positive, index, p * y)
        weighted = np.zeros((len(groups), z.shape[1]))
        np.add.at(weighted, index, (p * y)[:, None] * z)
        expected = np.zeros((len(groups), z.shape[1]))
        np.add.at(expected, index, p[:, None] * z)
        gradient = (expected - weighted / (positive[:, None] + 1e-12)).sum(axis=0) + l2 * beta
        return float(-np.log(positive + 1e-12).sum() + l2 * beta @ beta / 2), gradient

    beta = minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B").x
    return np.asarray(beta / scale)


def fit_ranking(x: np.ndarray, y: np.ndarray, question: np.ndarray, w: np.ndarray
                ) -> tuple[np.ndarray, float]:
    """Listwise weights, then one logistic over their score (so the score reads as the
    probability that the sentence holds the answer, which the refusal model uses)."""
    direction = fit_listwise(x, y, question)
    slope, bias = fit_logistic((x @ direction)[:, None], y, w)
    return direction * slope[0], bias


def fit_sentence_model(rows: list[SentenceRow]) -> JSONObject:
    """Two models over the candidates' features (see ``rag.answering.sentence_model``),
    and their top-1 accuracy with whole documents left out of the fit."""
    from rag.answering import CHEAP_FEATURES, FEATURE_NAMES

    x = np.array([r.features for r in rows], dtype=float)
    y = np.array([r.label for r in rows], dtype=float)
    question = np.array([r.question for r in rows])
    # every question counts once, however many candidates it has
    per_question: dict[int, int] = {}
    for row in rows:
        per_question[row.question] = per_question.get(row.question, 0) + 1
    w = np.array([1.0 / per_question[r.question] for r in rows]) * len(per_question)
    groups = sorted({r.group for r in rows})
    order = np.random.default_rng(11).permutation(len(groups))
    fold_of = {groups[g]: i % FOLDS for i, g in enumerate(order)}
    result: JSONObject = {"questions": len(per_question), "candidates": len(rows),
                              "method": "softmax over each question's candidates (L2 1.0), "
                                        "then a logistic over its score"}
    for name, columns in (("cheap", CHEAP_FEATURES), ("full", FEATURE_NAMES)):
        index = [FEATURE_NAMES.index(c) for c in columns]
        xs = x[:, index]
        weights, bias = fit_ranking(xs, y, question, w)
        held_out = np.zeros(len(rows))
        for fold in range(FOLDS):
            test = np.array([fold_of[r.group] == fold for r in rows])
            fold_weights, fold_bias = fit_ranking(xs[~test], y[~test], question[~test],
                                                  w[~test])
            held_out[test] = xs[test] @ fold_weights + fold_bias
        result[name] = {
            "weights": {c: round(float(v), 4) for c, v in zip(columns, weights, strict=True)},
            "bias": round(bias, 4),
            "training_top1": _top1(rows, xs @ weights + bias),
            "leave_documents_out_top1": _top1(rows, held_out),
        }
    return result


def fit(rows: list[Row], columns: Sequence[str]) -> JSONObject:
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
    parser.add_argument("--questions", type=Path, nargs="+",
                        default=[HERE / "questions.yaml", HERE / "staff.yaml"])
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus")
    parser.add_argument("--out", type=Path, default=CALIBRATION_FILE)
    args = parser.parse_args()

    _, rows, sentence_model, model_name = collect(
        [q for q in args.questions if q.exists()], args.corpus)
    result: JSONObject = {
        "embedding_model": model_name,
        "calibrated_at": datetime.now(UTC).date().isoformat(),
        "data": {
            "questions": [str(q.resolve().relative_to(REPO))
                          if q.resolve().is_relative_to(REPO) else str(q)
                          for q in args.questions],
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
            kind: {c: round(float(np.mean([getattr(r.evidence, c)
                                           for r in rows if r.kind == kind])), 4)
                   for c in FEATURES}
            for kind in ("in_scope", "out_of_scope", "left_out")
        },
    }
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "data"}, indent=2))
    summary: JSONObject = {key: value for key, value in sentence_model.items()
               if key not in ("cheap", "full")}
    for name in ("cheap", "full"):
        fitted = cast("JSONObject", sentence_model[name])
        summary[name] = {k: v for k, v in fitted.items() if k != "weights"}
    print(json.dumps({"sentence_model": summary}, indent=2))


if __name__ == "__main__":
    main()
