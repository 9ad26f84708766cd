"""llama-index key-value stores for a generation's docstore, file hashes and journal:
on SQLite in the data directory (embedded), or on a Chroma collection (a server).

Both are crash-safe and cheap to update one key at a time. llama-index's default
``SimpleKVStore`` rewrites one JSON file on every persist and loses everything since the
last persist when the process dies; these commit each write, so an ingest killed with
SIGKILL leaves a docstore that matches what was really written.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from llama_index.core.storage.docstore.keyval_docstore import KVDocumentStore
from llama_index.core.storage.kvstore.types import DEFAULT_COLLECTION, BaseKVStore

# one upsert request of the server docstore stays well below Chroma's 40 MiB payload limit
KV_BATCH_BYTES = 4_000_000
KV_READ_PAGE = 5_000


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


class ChromaKVStore(BaseKVStore):
    """llama-index's key-value store on a Chroma collection: the docstore, file hashes
    and ingest journal of a generation where every machine can see them. One record per
    key, written as it happens (the same crash safety as the SQLite store)."""

    def __init__(self, collection: Any,
                 guard: Callable[[], AbstractContextManager[None]]) -> None:
        self._collection = collection
        self._guard = guard

    @staticmethod
    def _id(key: str, collection: str) -> str:
        return f"{collection}|{key}"  # KORA's and llama-index's collection names hold no "|"

    def put(self, key: str, val: dict, collection: str = DEFAULT_COLLECTION) -> None:
        self.put_all([(key, val)], collection=collection)

    async def aput(self, key: str, val: dict, collection: str = DEFAULT_COLLECTION) -> None:
        self.put(key, val, collection)

    def put_all(self, kv_pairs: list[tuple[str, dict]], collection: str = DEFAULT_COLLECTION,
                batch_size: int = 1) -> None:
        batch: list[tuple[str, str]] = []
        size = 0
        for key, val in kv_pairs:
            text = json.dumps(val, ensure_ascii=False)
            if batch and size + len(text) > KV_BATCH_BYTES:
                self._upsert(batch, collection)
                batch, size = [], 0
            batch.append((self._id(key, collection), text))
            size += len(text)
        if batch:
            self._upsert(batch, collection)

    def _upsert(self, rows: list[tuple[str, str]], collection: str) -> None:
        with self._guard():
            self._collection.upsert(
                ids=[row_id for row_id, _ in rows],
                documents=[text for _, text in rows],
                metadatas=[{"kv": collection} for _ in rows],
                embeddings=[[1.0] for _ in rows],
            )

    async def aput_all(self, kv_pairs: list[tuple[str, dict]],
                       collection: str = DEFAULT_COLLECTION, batch_size: int = 1) -> None:
        self.put_all(kv_pairs, collection, batch_size)

    def get(self, key: str, collection: str = DEFAULT_COLLECTION) -> dict | None:
        with self._guard():
            found = self._collection.get(ids=[self._id(key, collection)], include=["documents"])
        documents = found.get("documents") or []
        return json.loads(documents[0]) if documents and documents[0] is not None else None

    async def aget(self, key: str, collection: str = DEFAULT_COLLECTION) -> dict | None:
        return self.get(key, collection)

    def get_all(self, collection: str = DEFAULT_COLLECTION) -> dict[str, dict]:
        prefix = len(collection) + 1
        values: dict[str, dict] = {}
        offset = 0
        while True:
            with self._guard():
                page = self._collection.get(where={"kv": collection}, include=["documents"],
                                            limit=KV_READ_PAGE, offset=offset)
            for row_id, text in zip(page["ids"], page["documents"] or [], strict=True):
                values[row_id[prefix:]] = json.loads(text)
            if len(page["ids"]) < KV_READ_PAGE:
                return values
            offset += KV_READ_PAGE

    async def aget_all(self, collection: str = DEFAULT_COLLECTION) -> dict[str, dict]:
        return self.get_all(collection)

    def delete(self, key: str, collection: str = DEFAULT_COLLECTION) -> bool:
        row_id = self._id(key, collection)
        with self._guard():
            if not self._collection.get(ids=[row_id], include=[])["ids"]:
                return False
            self._collection.delete(ids=[row_id])
        return True

    async def adelete(self, key: str, collection: str = DEFAULT_COLLECTION) -> bool:
        return self.delete(key, collection)

    def close(self) -> None:
        """Nothing to release: the records live in the server."""


def open_docstore(kvstore: BaseKVStore) -> KVDocumentStore:
    return KVDocumentStore(kvstore, namespace="kora")
