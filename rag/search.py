"""Retrieval over the live index. Dense retrieval from Chroma for now."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from rag.embedder import Embedder
from rag.store import Index


@dataclass(frozen=True)
class Passage:
    chunk_id: str
    doc_id: str
    title: str
    source: str
    location: str
    date: str
    type: str
    text: str
    start: int
    end: int
    score: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_chroma(cls, chunk_id: str, text: str, meta: dict[str, Any], score: float) -> Passage:
        return cls(
            chunk_id=chunk_id,
            doc_id=str(meta.get("doc_id", "")),
            title=str(meta.get("title", "")),
            source=str(meta.get("source", "")),
            location=str(meta.get("location", "")),
            date=str(meta.get("date", "")),
            type=str(meta.get("type", "")),
            text=text,
            start=int(meta.get("start_char", 0)),
            end=int(meta.get("end_char", 0)),
            score=score,
        )


def dense_search(index: Index, embedder: Embedder, query: str, *, top_k: int) -> list[Passage]:
    count = index.chunk_count()
    if count == 0:
        return []
    result = index.collection.query(
        query_embeddings=[embedder.embed_query(query)],
        n_results=min(top_k, count),
        include=["documents", "metadatas", "distances"],
    )
    return [
        # cosine distance -> cosine similarity
        Passage.from_chroma(chunk_id, text, meta, round(1.0 - float(distance), 4))
        for chunk_id, text, meta, distance in zip(
            result["ids"][0], result["documents"][0], result["metadatas"][0],
            result["distances"][0], strict=True,
        )
    ]
