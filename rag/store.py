"""The index in a data directory: one Chroma collection, its docstore and keyword index.

The three belong to a *generation*. ``current.json`` names the live generation and the
embedding model it was built with; it is replaced atomically. ``kora ingest --rebuild``
builds a new generation beside the live one and switches only when it is complete, so
an interrupted rebuild leaves the previous index in service.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from rag.docstore import SqliteKVStore
from rag.errors import EmptyIndexError, IndexModelMismatchError, KoraError
from rag.settings import Settings

POINTER_FILE = "current.json"
LAST_INGEST_FILE = "last_ingest.json"
LOCK_FILE = "ingest.lock"
COLLECTION_PREFIX = "kora-"
FILE_STATE_COLLECTION = "kora/files"
PENDING_COLLECTION = "kora/pending"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` so that readers see either the old or the new file, never half."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class Generation:
    name: str
    embedding_model: str
    dimension: int

    @property
    def collection_name(self) -> str:
        return COLLECTION_PREFIX + self.name

    @classmethod
    def new(cls, *, embedding_model: str, dimension: int) -> Generation:
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        return cls(f"{stamp}-{os.getpid()}", embedding_model, dimension)


class ChromaClient:
    """One Chroma client per data directory and process (Chroma requires that)."""

    def __init__(self, settings: Settings) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if settings.chroma_url:
            url = urlparse(settings.chroma_url)
            self.client = chromadb.HttpClient(
                host=url.hostname or "localhost",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        else:
            path = settings.data_dir / "chroma"
            path.mkdir(parents=True, exist_ok=True)
            self.client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)

    def collection(self, generation: Generation, *, create: bool) -> Any:
        if create:
            return self.client.get_or_create_collection(
                name=generation.collection_name,
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"embedding_model": generation.embedding_model,
                          "dimension": generation.dimension},
            )
        return self.client.get_collection(name=generation.collection_name, embedding_function=None)

    def drop(self, generation_name: str) -> None:
        with contextlib.suppress(Exception):
            self.client.delete_collection(COLLECTION_PREFIX + generation_name)

    def generation_names(self) -> list[str]:
        names = [str(getattr(c, "name", c)) for c in self.client.list_collections()]
        return [n[len(COLLECTION_PREFIX) :] for n in names if n.startswith(COLLECTION_PREFIX)]


class Index:
    """One generation of the index, opened for reading or writing."""

    def __init__(self, data_dir: Path, generation: Generation, collection: Any) -> None:
        self.data_dir = data_dir
        self.generation = generation
        self.collection = collection
        self.kvstore = SqliteKVStore(data_dir / f"docstore-{generation.name}.sqlite")

    @property
    def keyword_dir(self) -> Path:
        return self.data_dir / f"keyword-{self.generation.name}"

    def file_states(self) -> dict[str, dict[str, Any]]:
        """doc_id -> {"sha256", "path", "indexed_at"} for every indexed file."""
        return self.kvstore.get_all(FILE_STATE_COLLECTION)

    def set_file_state(self, doc_id: str, state: dict[str, Any]) -> None:
        self.kvstore.put(doc_id, state, collection=FILE_STATE_COLLECTION)

    def delete_file_state(self, doc_id: str) -> None:
        self.kvstore.delete(doc_id, collection=FILE_STATE_COLLECTION)

    def pending(self) -> list[str]:
        """Documents of a batch that was started but never recorded (a killed ingest)."""
        return sorted(self.kvstore.get_all(PENDING_COLLECTION))

    def mark_pending(self, doc_ids: list[str]) -> None:
        self.kvstore.put_all([(doc_id, {}) for doc_id in doc_ids], collection=PENDING_COLLECTION)

    def clear_pending(self, doc_ids: list[str]) -> None:
        for doc_id in doc_ids:
            self.kvstore.delete(doc_id, collection=PENDING_COLLECTION)

    def chunk_count(self) -> int:
        return int(self.collection.count())

    def close(self) -> None:
        self.kvstore.close()


class DataDir:
    """The data directory: which generation is live, and how to open or replace it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path = settings.data_dir
        self._chroma: ChromaClient | None = None

    @property
    def chroma(self) -> ChromaClient:
        if self._chroma is None:
            self._chroma = ChromaClient(self.settings)
        return self._chroma

    def current(self) -> Generation | None:
        data = read_json(self.path / POINTER_FILE)
        return Generation(**data) if data else None

    def check_model(self, generation: Generation) -> None:
        if generation.embedding_model != self.settings.embedding_model:
            raise IndexModelMismatchError(
                f"The index in {self.path} was built with embedding model "
                f"'{generation.embedding_model}', but '{self.settings.embedding_model}' is "
                "configured: run `kora ingest --rebuild` (or set KORA_EMBEDDING_MODEL back)."
            )

    def open_current(self, *, verify_model: bool = True) -> Index:
        """The live index for reading; a clear error when there is none yet, or (unless
        ``verify_model`` is off, for reporting) when it was built with another model."""
        generation = self.current()
        if generation is None:
            raise EmptyIndexError(
                f"No index in {self.path} yet: run `kora ingest` to index the documents."
            )
        if verify_model:
            self.check_model(generation)
        try:
            collection = self.chroma.collection(generation, create=False)
        except Exception as exc:
            raise KoraError(
                f"The index in {self.path} is damaged (collection {generation.collection_name} "
                "is missing): run `kora ingest --rebuild`."
            ) from exc
        return Index(self.path, generation, collection)

    def open_for_ingest(self, *, embedding_model: str, dimension: int, rebuild: bool) -> Index:
        """The live generation, or a new one when rebuilding or when none exists yet."""
        self.path.mkdir(parents=True, exist_ok=True)
        current = self.current()
        if current is not None and not rebuild:
            self.check_model(current)
            return Index(self.path, current, self.chroma.collection(current, create=True))
        generation = Generation.new(embedding_model=embedding_model, dimension=dimension)
        return Index(self.path, generation, self.chroma.collection(generation, create=True))

    def publish(self, index: Index) -> None:
        """Make ``index`` the live generation (atomic), then remove every other one."""
        write_json_atomic(
            self.path / POINTER_FILE,
            {
                "name": index.generation.name,
                "embedding_model": index.generation.embedding_model,
                "dimension": index.generation.dimension,
            },
        )
        self.remove_stale_generations(keep=index.generation.name)

    def remove_stale_generations(self, *, keep: str) -> None:
        """Drop leftovers of replaced or interrupted generations."""
        for name in self.chroma.generation_names():
            if name != keep:
                self.chroma.drop(name)
        for leftover in self.path.glob("docstore-*.sqlite*"):
            if keep not in leftover.name:
                leftover.unlink(missing_ok=True)
        for leftover in self.path.glob("keyword-*"):
            if not leftover.name.startswith(f"keyword-{keep}"):
                shutil.rmtree(leftover, ignore_errors=True)

    def last_ingest(self) -> dict[str, Any] | None:
        data = read_json(self.path / LAST_INGEST_FILE)
        return data if isinstance(data, dict) else None

    def record_ingest(self, report: dict[str, Any]) -> None:
        write_json_atomic(self.path / LAST_INGEST_FILE, report)

    @contextlib.contextmanager
    def ingest_lock(self, *, wait_seconds: float = 0.0) -> Iterator[None]:
        """One ingest at a time per data directory (CLI and admin UI alike)."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / LOCK_FILE, "w") as handle:
            deadline = time.monotonic() + wait_seconds
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError as exc:
                    if time.monotonic() >= deadline:
                        raise KoraError(
                            f"Another ingest is running on {self.path}: wait for it to finish."
                        ) from exc
                    time.sleep(0.2)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
