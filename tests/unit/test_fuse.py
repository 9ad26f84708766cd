"""``fuse``: one ranking from the dense and the BM25 candidates, each way the settings
offer (min-max, score, reciprocal rank), on passages made here."""

from __future__ import annotations

import pytest

from rag.choices import FusionMethod
from rag.passage import Passage
from rag.retrieval import fuse


def passage(chunk_id: str) -> Passage:
    return Passage(chunk_id=chunk_id, doc_id=f"{chunk_id}.md", title=chunk_id, source="",
                   location="", date="", type="", text=chunk_id, start=0, end=0, score=0.0)


A, B, C, D = (passage(name) for name in "abcd")
DENSE = [(A, 0.90), (B, 0.85), (C, 0.80)]
BM25 = [(C, 12.0), (D, 6.0), (A, 3.0)]


def ids(method: FusionMethod, weights: tuple[float, float] = (1.0, 1.0)) -> list[str]:
    return [r.passage.chunk_id for r in fuse(DENSE, BM25, weights=weights, method=method)]


def test_minmax_scales_each_side_to_unit_and_weights_them() -> None:
    fused = {r.passage.chunk_id: r for r in fuse(DENSE, BM25, weights=(1.5, 1.0),
                                                  method="minmax")}
    # dense: a 1, b 0.5, c 0; bm25: c 1, d 1/3, a 0
    assert fused["a"].fused == pytest.approx(1.5)
    assert fused["b"].fused == pytest.approx(0.75)
    assert fused["c"].fused == pytest.approx(1.0)
    assert fused["d"].fused == pytest.approx(1 / 3)
    assert ids("minmax", (1.5, 1.0)) == ["a", "c", "b", "d"]
    # the dense side weighted less, the BM25 favourite leads
    assert ids("minmax", (0.5, 1.0))[0] == "c"


def test_each_candidate_keeps_what_both_rankings_said() -> None:
    fused = {r.passage.chunk_id: r for r in fuse(DENSE, BM25, weights=(1.0, 1.0),
                                                  method="minmax")}
    assert (fused["a"].dense_rank, fused["a"].dense_score) == (1, 0.90)
    assert (fused["a"].bm25_rank, fused["a"].bm25_score) == (3, 3.0)
    assert (fused["d"].dense_rank, fused["d"].bm25_rank) == (None, 2)
    assert (fused["b"].bm25_rank, fused["b"].bm25_score) == (None, None)
    # the passage carries its fused score, rounded
    assert fused["a"].passage.score == round(fused["a"].fused, 6)


def test_rrf_adds_reciprocal_ranks() -> None:
    fused = {r.passage.chunk_id: r.fused
             for r in fuse(DENSE, BM25, weights=(1.0, 1.0), method="rrf", rrf_k=60)}
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 63)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert fused["d"] == pytest.approx(1 / 62)
    # a tie is broken by chunk id, so the order never depends on dict order
    assert ids("rrf")[:2] == ["a", "c"]


def test_score_fusion_adds_the_cosine_to_bm25_over_its_best() -> None:
    fused = {r.passage.chunk_id: r.fused
             for r in fuse(DENSE, BM25, weights=(1.0, 1.0), method="score")}
    assert fused["a"] == pytest.approx(0.90 + 3.0 / 12.0)
    assert fused["c"] == pytest.approx(0.80 + 1.0)
    # outside the dense candidates: at most as similar as the last of them
    assert fused["d"] == pytest.approx(0.80 + 6.0 / 12.0)


def test_one_side_empty_or_both() -> None:
    assert [r.passage.chunk_id for r in fuse(DENSE, [], weights=(1.5, 1.0),
                                             method="minmax")] == ["a", "b", "c"]
    assert [r.passage.chunk_id for r in fuse([], BM25, weights=(1.5, 1.0),
                                             method="score")] == ["c", "d", "a"]
    assert fuse([], [], weights=(1.0, 1.0), method="minmax") == []
    # a single candidate per side scales to 1, not to a division by zero
    single = fuse([(A, 0.9)], [(A, 4.0)], weights=(1.5, 1.0), method="minmax")
    assert single[0].fused == pytest.approx(2.5)
