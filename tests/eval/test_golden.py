"""The golden set as gates: `pytest -m eval`. Thresholds live in thresholds.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evaluation import GoldenSet, run_golden
from evaluation.golden import EvalResult
from rag.providers.embedding import Embedder
from rag.settings import Settings
from tests.conftest import CORPUS, REPO

pytestmark = [pytest.mark.eval, pytest.mark.slow]
GATES = yaml.safe_load((Path(__file__).parent / "thresholds.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def result(embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> EvalResult:
    settings = Settings.load(data_dir=tmp_path_factory.mktemp("unused"), llm="none")
    return run_golden(settings=settings, embedder=embedder, golden=GoldenSet.load(),
                      corpus=CORPUS)


def test_golden_set_is_complete() -> None:
    golden = GoldenSet.load()
    assert len(golden.questions) >= 80
    assert len(golden.out_of_scope) >= 15
    assert len(golden.conversations) >= 10
    assert {q.category for q in golden.questions} == {
        "factual", "paraphrase", "compound", "umlaut", "multi_doc", "date_number", "staff"}
    for question in golden.questions:
        for doc in question.expected_docs:
            assert (CORPUS / doc).exists(), doc


def test_every_question_has_a_staff_style_twin_asking_for_the_same_facts() -> None:
    golden = GoldenSet.load()
    originals = {q.id: q for q in golden.questions if q.category != "staff"}
    twins = [q for q in golden.questions if q.category == "staff"]
    raw = {item["id"]: item for item in yaml.safe_load(
        (REPO / "evaluation" / "golden.yaml").read_text(encoding="utf-8"))["questions"]}
    assert {raw[t.id]["twin_of"] for t in twins} == set(originals)
    for twin in twins:
        original = originals[raw[twin.id]["twin_of"]]
        assert twin.key_facts == original.key_facts and twin.expected_docs == original.expected_docs
        assert twin.question == twin.question.lower(), twin.id  # typed as staff type


@pytest.mark.parametrize("retriever", ["hybrid", "bm25", "dense"])
def test_retrieval_gates(result: EvalResult, retriever: str) -> None:
    for metric, minimum in GATES["retrieval"][retriever].items():
        assert result.retrieval[retriever][metric] >= minimum, (retriever, metric)


def test_hybrid_beats_its_parts(result: EvalResult) -> None:
    margin = result.retrieval["hybrid"]["ndcg@10"] - result.retrieval["bm25"]["ndcg@10"]
    assert margin >= GATES["retrieval"]["hybrid_minus_bm25_ndcg@10"]
    assert result.retrieval["hybrid"]["ndcg@10"] > result.retrieval["dense"]["ndcg@10"]


def test_answer_gates(result: EvalResult) -> None:
    gates = GATES["answers"]
    assert result.answers["key_fact_recall"] >= gates["key_fact_recall"]
    assert result.answers["citation_precision"] >= gates["citation_precision"]
    assert result.answers["citation_doc_precision"] >= gates["citation_doc_precision"]
    assert result.refusal["in_scope_refused"] <= gates["in_scope_refused_max"]
    for category, minimum in GATES["categories"]["key_fact_recall"].items():
        assert result.answers_by_category[category]["key_fact_recall"] >= minimum, category


def test_refusal_gates(result: EvalResult) -> None:
    gates = GATES["refusal"]
    assert result.refusal["recall"] >= gates["recall"]
    assert result.refusal["precision"] >= gates["precision"]
    assert result.refusal["recall_by_kind"]["unrelated"] >= gates["recall_unrelated"]
    assert result.refusal["recall_by_kind"]["near_miss"] >= gates["recall_near_miss"]


def test_conversation_gates(result: EvalResult) -> None:
    gates = GATES["conversations"]
    assert result.conversations["second_turn_hit@3"] >= gates["second_turn_hit@3"]
    assert result.conversations["key_fact_recall"] >= gates["key_fact_recall"]


def test_faithfulness_is_skipped_without_llm(result: EvalResult) -> None:
    assert "no LLM configured" in result.faithfulness["skipped"]


def test_report_has_tables_and_charts(result: EvalResult, tmp_path: Path) -> None:
    from evaluation import write_report

    report = write_report(result, tmp_path / "report")
    text = report.read_text(encoding="utf-8")
    assert "## Retrieval" in text and "| hybrid |" in text
    assert "## Refusals" in text and "![Recall@k](recall_at_k.png)" in text
    for chart in ("recall_at_k.png", "categories.png"):
        data = (tmp_path / "report" / chart).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
