"""Questions KORA refused, grouped into the topics the documents do not cover.

Recorded only with ``record_unanswered`` on (off by default): the question text and its
time, nothing of who asked. They are kept for ``feedback_retention_days`` and purged with
feedback (at `kora serve` start, hourly while questions are recorded, before every export
and by `kora feedback purge`).

Grouping merges near-identical questions by the similarity of their embeddings, with the
model KORA answers with: a greedy pass, most asked wording first, that joins a question
to the first group whose centroid it is close to. "Close" is measured above the model's
own similarity floor (``Embedder.similarity_floor``: the cosine of two unrelated
sentences; the README's "How answers are made" gives the measured floors), so the same
rule holds for e5 and MiniLM without a cosine fitted to any corpus.
"""

from __future__ import annotations

import csv
import io
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, cast

import numpy as np
from sqlalchemy import delete, func, insert, select

from people.schema import unanswered as _unanswered
from rag.jsontypes import JSONObject

if TYPE_CHECKING:
    from people.database import Database
    from rag.providers.embedding import Embedder

PURGE_INTERVAL_SECONDS = 3600
# how far above the model's floor two questions must be to count as one topic: half way
# from "unrelated" to "identical"
TOPIC_MARGIN = 0.5
EXAMPLES_SHOWN = 3
CSV_COLUMNS = ["topic", "count", "first_asked", "last_asked", "examples"]
MAX_QUESTION_CHARS = 1000


@dataclass
class Topic:
    """Questions taken for one topic: the most asked wording leads."""

    count: int = 0
    first_asked: str = ""
    last_asked: str = ""
    wordings: Counter[str] = field(default_factory=Counter)

    @property
    def label(self) -> str:
        return self.wordings.most_common(1)[0][0] if self.wordings else ""

    def examples(self, limit: int = EXAMPLES_SHOWN) -> list[str]:
        return [text for text, _ in self.wordings.most_common(limit)]

    def as_dict(self) -> JSONObject:
        return {"topic": self.label, "count": self.count, "first_asked": self.first_asked,
                "last_asked": self.last_asked, "examples": self.examples()}


class UnansweredStore:
    """The unanswered table; safe to share between request threads."""

    def __init__(self, database: Database, *, retention_days: float | None = None) -> None:
        self.database = database
        self.retention_days = retention_days
        self._last_purge = 0.0

    def add(self, question: str) -> None:
        question = " ".join(question.split())[:MAX_QUESTION_CHARS]
        if not question:
            return
        self._purge_if_due()
        with self.database.transaction() as connection:
            connection.execute(insert(_unanswered).values(
                created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                question=question))

    def purge(self, *, older_than_days: float) -> int:
        """Delete questions recorded more than ``older_than_days`` ago; how many."""
        cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
        with self.database.transaction() as connection:
            removed = connection.execute(delete(_unanswered).where(
                _unanswered.c.created_at < cutoff.isoformat(timespec="seconds"))).rowcount
        if removed:
            self.database.flush_to_file()
        self._last_purge = time.monotonic()
        return int(removed or 0)

    def _purge_if_due(self) -> None:
        if self.retention_days is None:
            return
        if self._last_purge and time.monotonic() - self._last_purge < PURGE_INTERVAL_SECONDS:
            return
        self.purge(older_than_days=self.retention_days)

    def questions(self) -> list[tuple[str, str]]:
        """(time, question), oldest first; past retention purged first when it is set."""
        if self.retention_days is not None:
            self.purge(older_than_days=self.retention_days)
        with self.database.transaction() as connection:
            rows = connection.execute(select(_unanswered.c.created_at, _unanswered.c.question)
                                      .order_by(_unanswered.c.id)).all()
        return [(str(created), str(question)) for created, question in rows]

    def count(self) -> int:
        with self.database.transaction() as connection:
            return int(connection.execute(select(func.count()).select_from(_unanswered))
                       .scalar_one())

    def topics(self, embedder: Embedder, *, limit: int | None = None) -> list[Topic]:
        """The recorded questions grouped by topic, most asked first."""
        return group_questions(self.questions(), embed=embedder.embed_sentences,
                               floor=embedder.similarity_floor(), limit=limit)


def group_questions(asked: Sequence[tuple[str, str]], *,
                    embed: Callable[[list[str]], list[list[float]]], floor: float,
                    margin: float = TOPIC_MARGIN, limit: int | None = None) -> list[Topic]:
    """``asked``: (time, question). Identical wordings (case and spacing aside) count
    together; then each wording, most asked first, joins the first topic whose centroid
    is at least ``floor + margin * (1 - floor)`` similar, else opens a new one."""
    by_wording: dict[str, list[str]] = {}
    shown: dict[str, str] = {}
    for created, question in asked:
        key = question.casefold()
        by_wording.setdefault(key, []).append(created)
        shown.setdefault(key, question)
    if not by_wording:
        return []
    keys = sorted(by_wording, key=lambda k: (-len(by_wording[k]), min(by_wording[k])))
    vectors = _normalised(embed([shown[key] for key in keys]))
    threshold = floor + margin * (1.0 - floor)
    topics: list[Topic] = []
    sums: list[np.ndarray] = []
    for key, vector in zip(keys, vectors, strict=True):
        best, best_similarity = -1, threshold
        for number, total in enumerate(sums):
            similarity = float(vector @ (total / np.linalg.norm(total)))
            if similarity >= best_similarity:
                best, best_similarity = number, similarity
        if best < 0:
            topics.append(Topic())
            sums.append(np.zeros_like(vector))
            best = len(topics) - 1
        topic = topics[best]
        times = by_wording[key]
        sums[best] = sums[best] + vector * len(times)
        topic.count += len(times)
        topic.wordings[shown[key]] += len(times)
        topic.first_asked = min([topic.first_asked or min(times), *times])
        topic.last_asked = max([topic.last_asked, *times])
    topics.sort(key=lambda t: (-t.count, t.first_asked))
    return topics[:limit] if limit else topics


def _normalised(vectors: list[list[float]]) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def topics_csv(topics: Sequence[Topic]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for topic in topics:
        row = topic.as_dict()
        writer.writerow({**row, "examples": " | ".join(cast("list[str]", row["examples"]))})
    return buffer.getvalue()


__all__ = ["CSV_COLUMNS", "Topic", "UnansweredStore", "group_questions", "topics_csv"]
