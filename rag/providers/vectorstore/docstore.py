"""A llama-index key-value store on SQLite: crash-safe and cheap to update one key at a time.

llama-index's default ``SimpleKVStore`` rewrites one JSON file on every persist and loses
everything since the last persist when the process dies; SQLite commits each write, so an
ingest killed with SIGKILL leaves a docstore that matches what was really written.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from llama_index.core.storage.docstore.keyval_docstore import KVDocumentStore
from llama_index.core.storage.kvstore.types import DEFAULT_COLLECTION, BaseKVStore


class SqliteKVStore(BaseKVStore):
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(str(path), check_same_thread=False)
        with self._connection:
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=NORMAL")
            self._connection.execute(
                "CREATE TABLE IF NOT EXISTS kv (collection TEXT NOT NULL, key TEXT NOT NULL, "
                "value TEXT NOT NULL, PRIMARY KEY (collection, key))"
            )

    def close(self) -> None:
        self._connection.close()

    def put(self, key: str, val: dict, collection: str = DEFAULT_COLLECTION) -> None:
        self.put_all([(key, val)], collection=collection, batch_size=1)

    async def aput(self, key: str, val: dict, collection: str = DEFAULT_COLLECTION) -> None:
        self.put(key, val, collection)

    def put_all(
        self,
        kv_pairs: list[tuple[str, dict]],
        collection: str = DEFAULT_COLLECTION,
        batch_size: int = 1,
    ) -> None:
        rows = [(collection, key, json.dumps(val, ensure_ascii=False)) for key, val in kv_pairs]
        with self._lock, self._connection:
            self._connection.executemany(
                "INSERT OR REPLACE INTO kv (collection, key, value) VALUES (?, ?, ?)", rows
            )

    async def aput_all(
        self,
        kv_pairs: list[tuple[str, dict]],
        collection: str = DEFAULT_COLLECTION,
        batch_size: int = 1,
    ) -> None:
        self.put_all(kv_pairs, collection, batch_size)

    def get(self, key: str, collection: str = DEFAULT_COLLECTION) -> dict | None:
        with self._lock:
            row = self._connection.execute(
                "SELECT value FROM kv WHERE collection = ? AND key = ?", (collection, key)
            ).fetchone()
        return json.loads(row[0]) if row else None

    async def aget(self, key: str, collection: str = DEFAULT_COLLECTION) -> dict | None:
        return self.get(key, collection)

    def get_all(self, collection: str = DEFAULT_COLLECTION) -> dict[str, dict]:
        with self._lock:
            rows = self._connection.execute(
                "SELECT key, value FROM kv WHERE collection = ?", (collection,)
            ).fetchall()
        return {key: json.loads(value) for key, value in rows}

    async def aget_all(self, collection: str = DEFAULT_COLLECTION) -> dict[str, dict]:
        return self.get_all(collection)

    def delete(self, key: str, collection: str = DEFAULT_COLLECTION) -> bool:
        with self._lock, self._connection:
            cursor = self._connection.execute(
                "DELETE FROM kv WHERE collection = ? AND key = ?", (collection, key)
            )
        return cursor.rowcount > 0

    async def adelete(self, key: str, collection: str = DEFAULT_COLLECTION) -> bool:
        return self.delete(key, collection)


def open_docstore(kvstore: BaseKVStore) -> KVDocumentStore:
    return KVDocumentStore(kvstore, namespace="kora")
