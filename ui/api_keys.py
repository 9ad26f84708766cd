"""API keys for the OpenAI-compatible HTTP API (`kora admin token add|list|revoke`).

A key is shown once, when it is made; KORA keeps only its SHA-256 (a key is 256 random
bits, so a fast hash is safe here, unlike for passwords, and checking it costs nothing
per request). Each key belongs to a named client (a portal, a team, a person) and may
expire. Requests are counted per key.

The store is an interface (``ApiKeyStore``) with one implementation on SQLite in the
data directory (``api_keys.sqlite``, 0600): people's data is moving into one SQL store,
and that move replaces this class, not its callers.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol

from rag.errors import UsageError

API_KEYS_FILE = "api_keys.sqlite"
KEY_PREFIX = "kora-"
_KEY = re.compile(r"kora-([0-9a-f]{8})-([A-Za-z0-9_-]{43})")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@ -]{0,63}")
MAX_EXPIRES_DAYS = 3650

Refusal = Literal["unknown", "revoked", "expired", "malformed"]


class ApiKeyError(UsageError):
    """A wrong name, id or expiry in `kora admin token`; exit code 2."""


@dataclass(frozen=True)
class ApiKey:
    """What KORA knows of a key: never the key itself."""

    id: str  # 8 hex digits, part of the key, safe to show and log
    name: str
    created: str  # ISO 8601, UTC
    expires: str | None
    revoked: str | None
    requests: int
    last_used: str | None

    def state(self, now: datetime | None = None) -> str:
        if self.revoked:
            return "revoked"
        if self.expires and datetime.fromisoformat(self.expires) <= (now or _now()):
            return "expired"
        return "active"


@dataclass(frozen=True)
class KeyCheck:
    key: ApiKey | None
    refusal: Refusal | None = None
    key_id: str | None = None  # the id the presented key claims (for throttling and logs)


class ApiKeyStore(Protocol):
    def add(self, name: str, *, expires_days: float | None = None) -> tuple[ApiKey, str]: ...
    def entries(self) -> list[ApiKey]: ...
    def revoke(self, id_or_name: str) -> list[ApiKey]: ...
    def check(self, presented: str) -> KeyCheck: ...
    def count_request(self, key_id: str) -> None: ...
    def close(self) -> None: ...


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_client_name(name: str) -> str:
    name = (name or "").strip()
    if not _NAME.fullmatch(name):
        raise ApiKeyError(
            f"Invalid client name {name!r}: 1-64 characters, letters, digits, spaces and "
            ". _ @ -, starting with a letter or digit (e.g. open-webui or anna.schmidt).")
    return name


_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    hash TEXT NOT NULL,
    created TEXT NOT NULL,
    expires TEXT,
    revoked TEXT,
    requests INTEGER NOT NULL DEFAULT 0,
    last_used TEXT
)
"""
_COLUMNS = "id, name, created, expires, revoked, requests, last_used"


class SqliteApiKeyStore:
    """``api_keys.sqlite`` in the data directory; safe across threads and processes
    (`kora admin token revoke` takes effect in a running server at the next request)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode = WAL")
            # a request count lost in a power cut does not matter; an fsync per request does
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute(_SCHEMA)
        for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            with contextlib.suppress(FileNotFoundError):
                file.chmod(0o600)

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> SqliteApiKeyStore:
        return cls(data_dir / API_KEYS_FILE)

    def add(self, name: str, *, expires_days: float | None = None) -> tuple[ApiKey, str]:
        """A new key for ``name``: (what is stored, the key to hand over once)."""
        name = check_client_name(name)
        if expires_days is not None and not 0 < expires_days <= MAX_EXPIRES_DAYS:
            raise ApiKeyError(f"--expires takes 1 to {MAX_EXPIRES_DAYS} days.")
        now = _now()
        expires = (now + timedelta(days=expires_days)).isoformat(timespec="seconds") \
            if expires_days is not None else None
        with self._lock, self._db:
            while True:
                key_id = secrets.token_hex(4)
                if not self._db.execute("SELECT 1 FROM api_keys WHERE id = ?",
                                        (key_id,)).fetchone():
                    break
            secret = f"{KEY_PREFIX}{key_id}-{secrets.token_urlsafe(32)}"
            self._db.execute(
                "INSERT INTO api_keys (id, name, hash, created, expires) VALUES (?, ?, ?, ?, ?)",
                (key_id, name, key_hash(secret), now.isoformat(timespec="seconds"), expires))
        return self._get(key_id), secret

    def entries(self) -> list[ApiKey]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM api_keys ORDER BY created, id").fetchall()
        return [ApiKey(*row) for row in rows]

    def revoke(self, id_or_name: str) -> list[ApiKey]:
        """Revoke the key with this id, or every active key of this client name."""
        now = _now().isoformat(timespec="seconds")
        with self._lock, self._db:
            rows = self._db.execute(
                "SELECT id FROM api_keys WHERE (id = ? OR name = ?) AND revoked IS NULL",
                (id_or_name, id_or_name)).fetchall()
            if not rows:
                raise ApiKeyError(f"No active key with id or name {id_or_name!r}: see "
                                  "`kora admin token list`.")
            self._db.executemany("UPDATE api_keys SET revoked = ? WHERE id = ?",
                                 [(now, row[0]) for row in rows])
        return [self._get(row[0]) for row in rows]

    def check(self, presented: str) -> KeyCheck:
        match = _KEY.fullmatch(presented or "")
        if match is None:
            return KeyCheck(None, "malformed")
        key_id = match.group(1)
        with self._lock:
            row = self._db.execute("SELECT hash FROM api_keys WHERE id = ?",
                                   (key_id,)).fetchone()
        # compared in constant time even when the id is unknown
        expected = row[0] if row else key_hash(secrets.token_urlsafe(32))
        if not hmac.compare_digest(key_hash(presented), expected) or row is None:
            return KeyCheck(None, "unknown", key_id)
        key = self._get(key_id)
        state = key.state()
        if state != "active":
            return KeyCheck(None, "revoked" if state == "revoked" else "expired", key_id)
        return KeyCheck(key, None, key_id)

    def count_request(self, key_id: str) -> None:
        with self._lock, self._db:
            self._db.execute(
                "UPDATE api_keys SET requests = requests + 1, last_used = ? WHERE id = ?",
                (_now().isoformat(timespec="seconds"), key_id))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _get(self, key_id: str) -> ApiKey:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?",
                                   (key_id,)).fetchone()
        return ApiKey(*row)


def _now() -> datetime:
    return datetime.now(UTC)


__all__ = ["API_KEYS_FILE", "ApiKey", "ApiKeyError", "ApiKeyStore", "KeyCheck",
           "SqliteApiKeyStore", "check_client_name", "key_hash"]
