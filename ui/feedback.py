"""Staff feedback on answers: thumbs up or down and a comment, kept in SQLite."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FEEDBACK_FILE = "feedback.sqlite"
CSV_COLUMNS = ["created_at", "rating", "comment", "question", "answer", "sources"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    rating INTEGER NOT NULL,
    comment TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    sources TEXT NOT NULL
)
"""


class FeedbackStore:
    """One SQLite file in the data directory; safe to share between request threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False)
        with self._lock, self._db:
            self._db.execute(_SCHEMA)

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> FeedbackStore:
        return cls(data_dir / FEEDBACK_FILE)

    def add(self, *, rating: int, question: str, answer: str,
            sources: list[dict[str, Any]], comment: str = "") -> None:
        """``rating`` is +1 (helpful) or -1 (not helpful)."""
        if rating not in (1, -1):
            raise ValueError(f"rating must be 1 or -1, not {rating!r}")
        row = (datetime.now(UTC).isoformat(timespec="seconds"), rating, comment.strip(),
               question, answer, json.dumps(sources, ensure_ascii=False))
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO feedback (created_at, rating, comment, question, answer, sources)"
                " VALUES (?, ?, ?, ?, ?, ?)", row)

    def rows(self) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self._db.execute(
                f"SELECT {', '.join(CSV_COLUMNS)} FROM feedback ORDER BY id")
            return [dict(zip(CSV_COLUMNS, row, strict=True)) for row in cursor.fetchall()]

    def export_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in self.rows():
            writer.writerow(row)
        return buffer.getvalue()

    def close(self) -> None:
        with self._lock:
            self._db.close()
