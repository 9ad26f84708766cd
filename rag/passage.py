"""A retrieved passage: what every ranking, answer and citation is made of."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from rag.jsontypes import JSONObject, as_int


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

    def as_dict(self) -> JSONObject:
        return asdict(self)

    @classmethod
    def from_chroma(cls, chunk_id: str, text: str, meta: JSONObject, score: float) -> Passage:
        return cls(
            chunk_id=chunk_id,
            doc_id=str(meta.get("doc_id", "")),
            title=str(meta.get("title", "")),
            source=str(meta.get("source", "")),
            location=str(meta.get("location", "")),
            date=str(meta.get("date", "")),
            type=str(meta.get("type", "")),
            text=text,
            start=as_int(meta.get("start_char", 0)),
            end=as_int(meta.get("end_char", 0)),
            score=score,
        )
