"""Hybrid retrieval: dense (Chroma) and BM25 (German stems and compound parts), fused,
filtered by metadata, near-duplicates collapsed.

Fusion follows the embedder. With the multilingual e5-small default the best fusion
scales both sides to [0, 1] over the query's candidates (the best candidate 1, the last
0) and weights the dense side more (``Settings.fusion_weight_dense``); the score fusion
that suited the English MiniLM (BM25 / best BM25 + cosine) hardly moves a ranking with
e5, whose cosines all sit in a narrow band. All three are in settings (``fusion``);
``benchmarks/retrieval_sweep.py`` measures them, and the figures are kept in one place:
the README, "Quality" > "Retrieval: chunk size and fusion, re-measured for e5".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from rag.choices import FusionMethod, RetrieverMode
from rag.passage import Passage
from rag.providers.embedding import Embedder
from rag.providers.index_generation import open_keyword_index
from rag.providers.keyword import GermanAnalyzer, KeywordIndex
from rag.providers.vectorstore import DataDir, Index
from rag.retrieval.filters import Filters
from rag.settings import Settings
from rag.stages import StageHook, stage

CANDIDATES = 50  # per ranking, before fusion and filtering
NEAR_DUPLICATE = 0.8  # Jaccard similarity of word trigrams
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Scored:
    """A passage with the evidence each ranking gave it (for refusal and debugging)."""

    passage: Passage
    fused: float
    dense_rank: int | None = None
    dense_score: float | None = None
    bm25_rank: int | None = None
    bm25_score: float | None = None


class Retriever:
    def __init__(
        self, settings: Settings, index: Index, embedder: Embedder, keyword: KeywordIndex | None,
        *, stage_hook: StageHook | None = None,
    ) -> None:
        self.settings = settings
        # hears the time of each stage of a search (``rag.stages``)
        self.stage_hook = stage_hook
        self.index = index
        self.embedder = embedder
        self.keyword = keyword
        self.analyzer = keyword.analyzer if keyword else GermanAnalyzer(
            decompound=settings.keyword_decompound)
        # counted once: a Chroma count costs milliseconds per query at 100k chunks, and a
        # retriever serves one state of the index (it is reopened after an ingest)
        self.chunk_count = index.chunk_count()
        # replaced documents stay in the index but answer nothing (read once per state of
        # the index, like the count)
        self.replaced = index.replaced()

    @classmethod
    def open(cls, settings: Settings, data_dir: DataDir, embedder: Embedder) -> Retriever:
        """The retriever over the live index; rebuilds a stale keyword index first."""
        index = data_dir.open_current()
        try:
            return cls(settings, index, embedder, open_keyword_index(index, settings))
        except BaseException:
            index.close()
            raise

    # --- the two rankings -------------------------------------------------------------

    def dense(self, query: str, *, limit: int, filters: Filters) -> list[tuple[Passage, float]]:
        count = self.chunk_count
        if count == 0:
            return []
        with stage(self.stage_hook, "embed query"):
            embedding = self.embedder.embed_query(query)
        with stage(self.stage_hook, "dense nearest"):
            found = self.index.nearest(embedding, limit=min(limit, count),
                                       where=filters.chroma_where())
        return [
            (Passage.from_chroma(near.chunk.chunk_id, near.chunk.text, near.chunk.metadata,
                                 1.0 - near.distance), 1.0 - near.distance)
            for near in found
        ]

    def bm25(self, query: str, *, limit: int, filters: Filters) -> list[tuple[Passage, float]]:
        if self.keyword is None:
            return []
        # filters apply after the ranking, so look further down the list when filtering
        with stage(self.stage_hook, "bm25 search"):
            hits = self.keyword.search(query, top_k=limit * (4 if filters else 1))
        if not hits:
            return []
        with stage(self.stage_hook, "bm25 chunks by id"):
            by_id = self.index.chunks([hit.chunk_id for hit in hits])
        ranked = []
        for hit in hits:
            if hit.chunk_id not in by_id:
                continue  # the keyword index is a moment behind Chroma
            chunk = by_id[hit.chunk_id]
            if filters and not filters.matches(chunk.metadata):
                continue
            ranked.append((Passage.from_chroma(chunk.chunk_id, chunk.text, chunk.metadata,
                                               hit.score), hit.score))
        return ranked[:limit]

    # --- fusion -----------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        top_k: int | None = None,
        mode: RetrieverMode | None = None,
        filters: Filters | None = None,
    ) -> list[Scored]:
        top_k = top_k or self.settings.top_k
        mode = mode or self.settings.retriever
        filters = filters or Filters()
        if self.replaced:
            filters = filters.excluding(self.replaced)
        limit = max(CANDIDATES, top_k * 4)
        dense = self.dense(query, limit=limit, filters=filters) if mode != "bm25" else []
        keyword = self.bm25(query, limit=limit, filters=filters) if mode != "dense" else []
        with stage(self.stage_hook, "fusion"):
            fused = fuse(dense, keyword, weights=self._weights(mode),
                         method=self._method(mode), rrf_k=self.settings.fusion_k)
        with stage(self.stage_hook, "near-duplicate collapse"):
            return collapse_near_duplicates(fused, keep=top_k)

    def _method(self, mode: RetrieverMode) -> FusionMethod:
        # one ranking alone: its own order, which any method keeps
        return self.settings.fusion if mode == "hybrid" else "rrf"

    def _weights(self, mode: RetrieverMode) -> tuple[float, float]:
        """(dense, bm25) weights."""
        if mode == "hybrid":
            return self.settings.fusion_weight_dense, self.settings.fusion_weight_bm25
        return float(mode == "dense"), float(mode == "bm25")

    def close(self) -> None:
        self.index.close()


Ranking = list[tuple[Passage, float]]


@dataclass(frozen=True)
class _Hit:
    """Where one ranking placed a passage: its rank (1 = best) and raw score."""

    rank: int
    score: float


@dataclass
class _Candidate:
    """A passage found by either ranking, with what each of them said about it."""

    passage: Passage
    dense: _Hit | None = None
    bm25: _Hit | None = None


def fuse(dense: Ranking, keyword: Ranking, *, weights: tuple[float, float], method: FusionMethod,
         rrf_k: int = 60) -> list[Scored]:
    """One ranking from the dense and the BM25 candidates (each best first), best first.
    ``weights`` are (dense, bm25)."""
    found: dict[str, _Candidate] = {}
    for rank, (passage, score) in enumerate(dense, start=1):
        found.setdefault(passage.chunk_id, _Candidate(passage)).dense = _Hit(rank, score)
    for rank, (passage, score) in enumerate(keyword, start=1):
        found.setdefault(passage.chunk_id, _Candidate(passage)).bm25 = _Hit(rank, score)
    w_dense, w_bm25 = weights
    dense_scale, bm25_scale = _Scale.of(dense), _Scale.of(keyword)
    results = []
    for candidate in found.values():
        in_dense = candidate.dense
        if method == "score" and in_dense is None and dense:
            # a passage outside the dense candidates is at most as similar as the last
            in_dense = _Hit(len(dense) + 1, dense_scale.worst)
        fused = (w_dense * _side_value(method, in_dense, dense_scale, rrf_k=rrf_k, cosine=True)
                 + w_bm25 * _side_value(method, candidate.bm25, bm25_scale, rrf_k=rrf_k,
                                        cosine=False))
        results.append(Scored(
            passage=replace(candidate.passage, score=round(fused, 6)),
            fused=fused,
            dense_rank=candidate.dense.rank if candidate.dense else None,
            dense_score=candidate.dense.score if candidate.dense else None,
            bm25_rank=candidate.bm25.rank if candidate.bm25 else None,
            bm25_score=candidate.bm25.score if candidate.bm25 else None,
        ))
    results.sort(key=lambda r: (-r.fused, r.passage.chunk_id))
    return results


@dataclass(frozen=True)
class _Scale:
    best: float
    worst: float

    @classmethod
    def of(cls, ranking: Ranking) -> _Scale:
        scores = [score for _, score in ranking]
        return cls(max(scores, default=0.0), min(scores, default=0.0))

    def unit(self, score: float) -> float:
        """``score`` on [0, 1]: the best candidate 1, the last 0."""
        return (score - self.worst) / (self.best - self.worst) if self.best > self.worst else 1.0


def _side_value(method: FusionMethod, hit: _Hit | None, scale: _Scale, *,
                rrf_k: int, cosine: bool) -> float:
    """What one ranking contributes for a passage it found at ``hit``."""
    if hit is None:
        return 0.0
    if method == "rrf":
        return 1.0 / (rrf_k + hit.rank)
    if method == "minmax":
        return scale.unit(hit.score)
    # score fusion: the cosine as it is, BM25 divided by the query's best BM25 score
    return max(0.0, hit.score) if cosine else hit.score / (scale.best or 1.0)


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + 3]) for i in range(max(1, len(words) - 2))}


def collapse_near_duplicates(results: list[Scored], *, keep: int = 50) -> list[Scored]:
    """Drop passages that repeat a better-ranked one almost word for word (copies of a
    document under two names, a page quoted in full elsewhere)."""
    kept: list[tuple[Scored, set[tuple[str, ...]]]] = []
    for result in results:
        shingles = _shingles(result.passage.text)
        duplicate = any(
            len(shingles & other) / max(1, len(shingles | other)) >= NEAR_DUPLICATE
            for _, other in kept
        )
        if not duplicate:
            kept.append((result, shingles))
            if len(kept) >= keep:
                break
    return [result for result, _ in kept]
