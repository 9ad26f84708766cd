"""Staff feedback on answers: thumbs up or down and a comment, in people's database.

Feedback holds what staff typed (questions may name people), so it is kept only for
``feedback_retention_days``: older rows are deleted when `kora serve` starts, at most
hourly while feedback is written, before every export, and by `kora feedback purge`. In
SQLite, ``secure_delete`` overwrites deleted rows in the file instead of leaving them in
free pages, and the write-ahead log that still held them is emptied.
"""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypedDict

from sqlalchemy import delete, func, insert, select, update

from people.schema import feedback as _feedback
from rag.jsontypes import JSONObject

if TYPE_CHECKING:
    from sqlalchemy import Connection, RowMapping

    from people.database import Database

FEEDBACK_FILE = "feedback.sqlite"  # where feedback lived before people's database
CSV_COLUMNS = ["created_at", "rating", "comment", "question", "answer", "sources"]
PURGE_INTERVAL_SECONDS = 3600


class FeedbackEntry(TypedDict):
    """One piece of feedback as ``entries`` and ``entry`` give it."""

    id: int
    created_at: str
    rating: int
    comment: str
    question: str
    answer: str
    sources: list[JSONObject]
    case_id: str | None


class FeedbackStore:
    """The feedback table; safe to share between request threads."""

    def __init__(self, database: Database, *, retention_days: float | None = None) -> None:
        """``retention_days``: delete older rows now and then (None: keep everything,
        for tools that only read)."""
        self.database = database
        self.retention_days = retention_days
        self._last_purge = 0.0

    @property
    def location(self) -> str:
        return self.database.location

    def purge(self, *, older_than_days: float) -> int:
        """Delete rows created more than ``older_than_days`` ago; the number deleted."""
        cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
        with self.database.transaction() as connection:
            removed = connection.execute(delete(_feedback).where(
                _feedback.c.created_at < cutoff.isoformat(timespec="seconds"))).rowcount
        if removed:
            self.database.flush_to_file()  # the write-ahead log held the deleted rows
        self._last_purge = time.monotonic()
        return int(removed or 0)

    def _purge_if_due(self) -> int:
        if self.retention_days is None:
            return 0
        if self._last_purge and time.monotonic() - self._last_purge < PURGE_INTERVAL_SECONDS:
            return 0
        return self.purge(older_than_days=self.retention_days)

    def add(self, *, rating: int, question: str, answer: str,
            sources: list[JSONObject], comment: str = "") -> None:
        """``rating`` is +1 (helpful) or -1 (not helpful)."""
        if rating not in (1, -1):
            raise ValueError(f"rating must be 1 or -1, not {rating!r}")
        self._purge_if_due()
        with self.database.transaction() as connection:
            connection.execute(insert(_feedback).values(
                created_at=datetime.now(UTC).isoformat(timespec="seconds"), rating=rating,
                comment=comment.strip(), question=question, answer=answer,
                sources=json.dumps(sources, ensure_ascii=False)))

    def rows(self) -> list[JSONObject]:
        columns = [_feedback.c[name] for name in CSV_COLUMNS]
        with self.database.transaction() as connection:
            result = connection.execute(select(*columns).order_by(_feedback.c.id)).all()
        return [dict(zip(CSV_COLUMNS, row, strict=True)) for row in result]

    def entries(self, *, rating: int | None = None,
                limit: int | None = None) -> list[FeedbackEntry]:
        """Feedback newest first, with its id, sources as a list and the case made of it
        (``case_id``); only one ``rating`` (+1 or -1) when given."""
        query = select(_feedback).order_by(_feedback.c.created_at.desc(),
                                           _feedback.c.id.desc())
        if rating is not None:
            query = query.where(_feedback.c.rating == rating)
        if limit:
            query = query.limit(limit)
        with self.database.transaction() as connection:
            result = connection.execute(query).mappings().all()
        return [_entry(row) for row in result]

    def entry(self, feedback_id: int) -> FeedbackEntry | None:
        with self.database.transaction() as connection:
            row = connection.execute(select(_feedback).where(
                _feedback.c.id == feedback_id)).mappings().first()
        return None if row is None else _entry(row)

    def mark_case(self, feedback_id: int, case_id: str) -> None:
        """Record that an admin made a golden-local case of this feedback."""
        with self.database.transaction() as connection:
            connection.execute(update(_feedback).where(_feedback.c.id == feedback_id)
                               .values(case_id=case_id))

    def weekly_helpful_share(self) -> list[tuple[str, float, int]]:
        """(ISO week "2026-W14", share of 👍 among the week's rated answers, count) per
        week with feedback, oldest first; only what retention has kept."""
        with self.database.transaction() as connection:
            rows = connection.execute(select(_feedback.c.created_at, _feedback.c.rating)).all()
        weeks: dict[str, list[int]] = {}
        for created_at, rating in rows:
            try:
                year, week, _ = datetime.fromisoformat(created_at).isocalendar()
            except ValueError:
                continue
            weeks.setdefault(f"{year}-W{week:02d}", []).append(rating)
        return [(week, sum(r > 0 for r in ratings) / len(ratings), len(ratings))
                for week, ratings in sorted(weeks.items())]

    def count(self) -> int:
        with self.database.transaction() as connection:
            return int(connection.execute(select(func.count()).select_from(_feedback))
                       .scalar_one())

    def export_csv(self) -> tuple[str, int]:
        """The CSV after purging what is past retention, and its number of rows."""
        if self.retention_days is not None:
            self.purge(older_than_days=self.retention_days)
        rows = self.rows()
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
        return buffer.getvalue(), len(rows)

    @staticmethod
    def import_rows(connection: Connection, rows: list[JSONObject]) -> int:
        """Rows of an old ``feedback.sqlite``, inside the importing transaction."""
        if rows:
            connection.execute(insert(_feedback), [
                {name: row[name] for name in CSV_COLUMNS} for row in rows])
        return len(rows)

    def close(self) -> None:
        """Nothing to release: the database's engine is shared."""


def _entry(row: RowMapping) -> FeedbackEntry:
    try:
        sources = json.loads(row["sources"] or "[]")
    except ValueError:
        sources = []
    return {"id": int(row["id"]), "created_at": row["created_at"], "rating": row["rating"],
            "comment": row["comment"], "question": row["question"], "answer": row["answer"],
            "sources": sources if isinstance(sources, list) else [],
            "case_id": row["case_id"]}


__all__ = ["CSV_COLUMNS", "FEEDBACK_FILE", "FeedbackStore"]
