"""Hybrid retrieval: dense (Chroma) and BM25 (German stems and compound parts), fused by
weighted reciprocal rank, filtered by metadata, near-duplicates collapsed.

The bundled embedder is an English model, so on German text BM25 is the stronger
ranking, and plain reciprocal-rank fusion loses to BM25 alone (XQuAD-de nDCG@10: RRF
0.865 against BM25 0.944). Fusing *scores* earns its keep: BM25 divided by the query's
best BM25 score (so 1.0 is the best keyword match) plus the cosine similarity lets the
embedder break BM25's near-ties without overriding a clear keyword match (0.951). Both
are in settings (``fusion``); README, "Retrieval quality", has the measurements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Literal

from rag.embedder import Embedder
from rag.filters import Filters
from rag.keyword import GermanAnalyzer, KeywordIndex, keyword_index_current, rebuild_keyword_index
from rag.search import Passage
from rag.settings import Settings
from rag.store import DataDir, Index

Mode = Literal["hybrid", "dense", "bm25"]
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
        self, settings: Settings, index: Index, embedder: Embedder, keyword: KeywordIndex | None
    ) -> None:
        self.settings = settings
        self.index = index
        self.embedder = embedder
        self.keyword = keyword
        self.analyzer = keyword.analyzer if keyword else GermanAnalyzer(
            decompound=settings.keyword_decompound)
        # counted once: a Chroma count costs milliseconds per query at 100k chunks, and a
        # retriever serves one state of the index (it is reopened after an ingest)
        self.chunk_count = index.chunk_count()

    @classmethod
    def open(cls, settings: Settings, data_dir: DataDir, embedder: Embedder) -> Retriever:
        """The retriever over the live index; rebuilds a stale keyword index first."""
        index = data_dir.open_current()
        if not keyword_index_current(index, settings):
            with data_dir.ingest_lock(wait_seconds=30):
                if not keyword_index_current(index, settings):
                    rebuild_keyword_index(index, settings)
        analyzer = GermanAnalyzer(decompound=settings.keyword_decompound)
        return cls(settings, index, embedder, KeywordIndex.load(index.keyword_dir,
                                                                analyzer=analyzer))

    # --- the two rankings -------------------------------------------------------------

    def dense(self, query: str, *, limit: int, filters: Filters) -> list[tuple[Passage, float]]:
        count = self.chunk_count
        if count == 0:
            return []
        result = self.index.collection.query(
            query_embeddings=[self.embedder.embed_query(query)],
            n_results=min(limit, count),
            where=filters.chroma_where(),
            include=["documents", "metadatas", "distances"],
        )
        return [
            (Passage.from_chroma(cid, text, meta, 1.0 - float(dist)), 1.0 - float(dist))
            for cid, text, meta, dist in zip(
                result["ids"][0], result["documents"][0], result["metadatas"][0],
                result["distances"][0], strict=True,
            )
        ]

    def bm25(self, query: str, *, limit: int, filters: Filters) -> list[tuple[Passage, float]]:
        if self.keyword is None:
            return []
        # filters apply after the ranking, so look further down the list when filtering
        hits = self.keyword.search(query, top_k=limit * (4 if filters else 1))
        if not hits:
            return []
        data = self.index.collection.get(
            ids=[hit.chunk_id for hit in hits], include=["documents", "metadatas"]
        )
        by_id = {
            cid: (text, meta)
            for cid, text, meta in zip(data["ids"], data["documents"], data["metadatas"],
                                       strict=True)
        }
        ranked = []
        for hit in hits:
            if hit.chunk_id not in by_id:
                continue  # the keyword index is a moment behind Chroma
            text, meta = by_id[hit.chunk_id]
            if filters and not filters.matches(meta):
                continue
            ranked.append((Passage.from_chroma(hit.chunk_id, text, meta, hit.score), hit.score))
        return ranked[:limit]

    # --- fusion -----------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        top_k: int | None = None,
        mode: Mode | None = None,
        filters: Filters | None = None,
    ) -> list[Scored]:
        top_k = top_k or self.settings.top_k
        mode = mode or self.settings.retriever
        filters = filters or Filters()
        limit = max(CANDIDATES, top_k * 4)
        dense = self.dense(query, limit=limit, filters=filters) if mode != "bm25" else []
        keyword = self.bm25(query, limit=limit, filters=filters) if mode != "dense" else []
        entries = self._fuse(dense, keyword, mode)
        fused = sorted(entries.values(), key=lambda e: (-e["fused"], e["passage"].chunk_id))
        results = [
            Scored(
                passage=replace(e["passage"], score=round(e["fused"], 6)),
                fused=e["fused"],
                dense_rank=e.get("dense_rank"),
                dense_score=e.get("dense_score"),
                bm25_rank=e.get("bm25_rank"),
                bm25_score=e.get("bm25_score"),
            )
            for e in fused
            if e["fused"] > 0
        ]
        return collapse_near_duplicates(results, keep=top_k)

    def _fuse(
        self,
        dense: list[tuple[Passage, float]],
        keyword: list[tuple[Passage, float]],
        mode: Mode,
    ) -> dict[str, dict[str, Any]]:
        entries: dict[str, dict[str, Any]] = {}
        for name, ranking in (("dense", dense), ("bm25", keyword)):
            for rank, (passage, score) in enumerate(ranking, start=1):
                entry = entries.setdefault(passage.chunk_id, {"passage": passage, "fused": 0.0})
                entry[f"{name}_rank"] = rank
                entry[f"{name}_score"] = score
        w_dense = self.settings.fusion_weight_dense if mode == "hybrid" else float(mode == "dense")
        w_bm25 = self.settings.fusion_weight_bm25 if mode == "hybrid" else float(mode == "bm25")
        if self.settings.fusion == "rrf" or mode != "hybrid":
            k = self.settings.fusion_k
            for entry in entries.values():
                for name, weight in (("dense", w_dense), ("bm25", w_bm25)):
                    if f"{name}_rank" in entry:
                        entry["fused"] += weight / (k + entry[f"{name}_rank"])
            return entries
        best_bm25 = max((score for _, score in keyword), default=0.0) or 1.0
        # a passage outside the dense candidates is at most as similar as the last of them
        floor = min((score for _, score in dense), default=0.0)
        for entry in entries.values():
            entry["fused"] = w_bm25 * entry.get("bm25_score", 0.0) / best_bm25 + w_dense * max(
                0.0, entry.get("dense_score", floor)
            )
        return entries

    def close(self) -> None:
        self.index.close()


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
