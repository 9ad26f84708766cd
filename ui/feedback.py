"""Staff feedback on answers: thumbs up or down and a comment, kept in SQLite.

Feedback holds what staff typed (questions may name people), so it is kept only for
``feedback_retention_days``: older rows are deleted when the store opens, at most hourly
while it is written to, before every export, and by `kora feedback purge`. SQLite's
``secure_delete`` overwrites deleted rows in the file instead of leaving them in free
pages.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

FEEDBACK_FILE = "feedback.sqlite"
CSV_COLUMNS = ["created_at", "rating", "comment", "question", "answer", "sources"]
PURGE_INTERVAL_SECONDS = 3600

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

    def __init__(self, path: Path, *, retention_days: float | None = None) -> None:
        """``retention_days``: delete older rows now and then (None: keep everything,
        for tools that only read)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.retention_days = retention_days
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._last_purge = 0.0
        with self._lock, self._db:
            self._db.execute("PRAGMA secure_delete = ON")
            self._db.execute(_SCHEMA)
        path.chmod(0o600)  # questions may hold personal data
        self._purge_if_due()

    @classmethod
    def in_data_dir(cls, data_dir: Path, *, retention_days: float | None = None) -> FeedbackStore:
        return cls(data_dir / FEEDBACK_FILE, retention_days=retention_days)

    def purge(self, *, older_than_days: float) -> int:
        """Delete rows created more than ``older_than_days`` ago; the number deleted."""
        cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
        with self._lock, self._db:
            cursor = self._db.execute("DELETE FROM feedback WHERE created_at < ?",
                                      (cutoff.isoformat(timespec="seconds"),))
            removed = cursor.rowcount
        self._last_purge = time.monotonic()
        return removed

    def _purge_if_due(self) -> int:
        if self.retention_days is None:
            return 0
        if self._last_purge and time.monotonic() - self._last_purge < PURGE_INTERVAL_SECONDS:
            return 0
        return self.purge(older_than_days=self.retention_days)

    def add(self, *, rating: int, question: str, answer: str,
            sources: list[dict[str, Any]], comment: str = "") -> None:
        """``rating`` is +1 (helpful) or -1 (not helpful)."""
        if rating not in (1, -1):
            raise ValueError(f"rating must be 1 or -1, not {rating!r}")
        row = (datetime.now(UTC).isoformat(timespec="seconds"), rating, comment.strip(),
               question, answer, json.dumps(sources, ensure_ascii=False))
        self._purge_if_due()
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
        if self.retention_days is not None:
            self.purge(older_than_days=self.retention_days)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in self.rows():
            writer.writerow(row)
        return buffer.getvalue()

    def close(self) -> None:
        with self._lock:
            self._db.close()
