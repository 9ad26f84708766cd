"""The data directory: which generation is live, and how to open, publish, replace and
tidy generations (with the folders each process derives from one, ``local_dir``); the
ingest lock."""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from rag.errors import EmptyIndexError, IndexModelMismatchError, IndexUnavailableError, KoraError
from rag.jsontypes import JSONObject, as_float
from rag.providers.vectorstore.catalog import Catalog, ChromaCatalog, FileCatalog
from rag.providers.vectorstore.chroma import ChromaClient, translated, unavailable_error
from rag.providers.vectorstore.generation import Generation, is_generation_name
from rag.providers.vectorstore.index import Index
from rag.settings import Settings

# A replaced generation stays readable this long where others may still read it: a
# worker notices the switch within KORA_INDEX_POLL_SECONDS, and its questions under way
# (an LLM answer can take two minutes) finish on the old one.
RETIRED_GRACE_SECONDS = 900.0


class DataDir:
    """Which generation is live, and how to open, replace and tidy it.

    ``serving``: this process also answers questions from the index (the web app), so a
    replaced generation is kept for its questions under way even without a server."""

    def __init__(self, settings: Settings, *, serving: bool = False) -> None:
        self.settings = settings
        self.path = settings.data_dir
        self.serving = serving
        self._chroma: ChromaClient | None = None
        self._catalog: Catalog | None = None
        self._lock = threading.Lock()

    @property
    def shared(self) -> bool:
        """Whether the index lives in a Chroma server (shared with other processes)."""
        return bool(self.settings.chroma_url)

    @property
    def location(self) -> str:
        """Where the index is, for messages."""
        if self.settings.chroma_url:
            return f"the Chroma server {self.settings.chroma_url}"
        return str(self.path)

    @property
    def chroma(self) -> ChromaClient:
        # built on first use and again after a failure: a server that was down at start
        # is picked up once it answers
        with self._lock:
            if self._chroma is None:
                self._chroma = ChromaClient(self.settings)
            return self._chroma

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = (ChromaCatalog(self.chroma, self.path, self.settings)
                             if self.shared else FileCatalog(self.path))
        return self._catalog

    @property
    def retire_grace_seconds(self) -> float:
        return RETIRED_GRACE_SECONDS if self.shared or self.serving else 0.0

    def unavailable(self, exc: BaseException) -> IndexUnavailableError | None:
        """The one line for ``exc`` if it means the Chroma server is down, else None."""
        return unavailable_error(self.settings, exc)

    def guarded(self) -> contextlib.AbstractContextManager[None]:
        """Inside, a Chroma server that is down raises its one ``IndexUnavailableError``
        line (other ``KoraError``s and unrelated failures pass unchanged)."""
        return translated(self.settings)

    # --- the pointer --------------------------------------------------------------------

    def _pointer(self) -> JSONObject | None:
        data = self.catalog.read_pointer()
        return data if data and data.get("name") else None

    def current(self) -> Generation | None:
        data = self._pointer()
        return Generation.from_pointer(data) if data else None

    def check_model(self, generation: Generation) -> None:
        if generation.embedding_model != self.settings.embedding_model:
            raise IndexModelMismatchError(
                f"The index in {self.location} was built with embedding model "
                f"'{generation.embedding_model}', but '{self.settings.embedding_model}' is "
                "configured: run `kora ingest --rebuild` (or set KORA_EMBEDDING_MODEL back)."
            )

    def open_current(self, *, verify_model: bool = True) -> Index:
        """The live index for reading; a clear error when there is none yet, or (unless
        ``verify_model`` is off, for reporting) when it was built with another model."""
        generation = self.current()
        if generation is None:
            raise EmptyIndexError(
                f"No index in {self.location} yet: run `kora ingest` to index the documents."
            )
        if verify_model:
            self.check_model(generation)
        try:
            collection = self.chroma.collection(generation, create=False)
        except IndexUnavailableError:
            raise
        except Exception as exc:
            raise KoraError(
                f"The index in {self.location} is damaged (collection "
                f"{generation.collection_name} is missing): run `kora ingest --rebuild`."
            ) from exc
        return Index(self, generation, collection)

    def require_chunks(self) -> None:
        """Raise ``EmptyIndexError`` unless the live index holds a chunk: an index that
        was never built, or whose documents were all removed, can answer nothing."""
        with contextlib.closing(self.open_current()) as index:
            empty = index.chunk_count() == 0
        if empty:
            raise EmptyIndexError(
                f"The index in {self.location} is empty: run `kora ingest` to index documents."
            )

    def open_for_ingest(self, *, embedding_model: str, dimension: int, rebuild: bool) -> Index:
        """The live generation, or a new one when rebuilding or when none exists yet."""
        self.path.mkdir(parents=True, exist_ok=True)
        current = self.current()
        if current is not None and not rebuild:
            self.check_model(current)
            return Index(self, current, self.chroma.collection(current, create=True))
        generation = Generation.new(embedding_model=embedding_model, dimension=dimension)
        return Index(self, generation, self.chroma.collection(generation, create=True))

    def publish(self, index: Index) -> None:
        """Make ``index`` the live generation under the next version (one atomic write of
        the pointer), then drop what nobody needs any more. The caller holds the ingest
        lock, so no one else publishes meanwhile."""
        old = self._pointer()
        previous = Generation.from_pointer(old) if old else None
        now = time.time()
        retired = [entry for entry in _retired(old)
                   if entry.get("name") != index.generation.name]
        if previous is not None and previous.name != index.generation.name:
            retired.append({"name": previous.name, "since": now})
        built = index.generation
        published = replace(built, version=(previous.version if previous else 0) + 1)
        self.catalog.write_pointer({**published.as_pointer(), "retired": retired,
                                    "published_at": datetime.now(UTC).isoformat(
                                        timespec="seconds")})
        index.generation = published
        self.remove_stale_generations(keep=published.name)

    def local_dir(self, generation_name: str, kind: str) -> Path:
        """A folder this process derives from a generation (``kind``-``generation``); it
        is removed with the generation."""
        return self.path / f"{kind}-{generation_name}"

    def _local_dirs(self) -> Iterator[tuple[str, Path]]:
        """(generation name, folder) of every folder derived from a generation."""
        if not self.path.is_dir():
            return
        for folder in self.path.iterdir():
            _, dash, name = folder.name.partition("-")
            if dash and not folder.name.startswith(".") and is_generation_name(name) \
                    and folder.is_dir():
                yield name, folder

    def _remove_local_dirs(self, generation_name: str) -> None:
        for name, folder in self._local_dirs():
            if name == generation_name:
                shutil.rmtree(folder, ignore_errors=True)

    def remove_stale_generations(self, *, keep: str) -> None:
        """Drop leftovers of replaced or interrupted generations; a replaced one only
        after the grace period when others may still be reading it."""
        data = self._pointer() or {}
        now = time.time()
        grace = self.retire_grace_seconds
        kept_retired = [entry for entry in _retired(data)
                        if entry.get("name") != keep
                        and now - as_float(entry.get("since", 0)) < grace]
        protected = {keep, *(entry["name"] for entry in kept_retired)}
        names = set(self.chroma.generation_names()) | self.catalog.kv_names()
        for name in names - protected:
            self._drop(name)
        if data and len(kept_retired) != len(_retired(data)):
            self.catalog.write_pointer({**data, "retired": kept_retired})
        for name, folder in list(self._local_dirs()):
            if name not in protected:
                shutil.rmtree(folder, ignore_errors=True)

    def _drop(self, name: str) -> None:
        self.chroma.drop(name)
        self.catalog.drop_kv(name)
        self._remove_local_dirs(name)

    def forget(self, generation_name: str) -> None:
        """This process no longer reads ``generation_name``: remove its own files for it,
        and, where no other process can be reading it (embedded), the generation too."""
        live = self.current()
        if live is not None and live.name == generation_name:
            return
        self._remove_local_dirs(generation_name)
        if self.shared:
            return
        data = self._pointer()
        if data is not None:
            retired = [e for e in _retired(data) if e.get("name") != generation_name]
            if len(retired) != len(_retired(data)):
                self.catalog.write_pointer({**data, "retired": retired})
        self._drop(generation_name)

    # --- reports and locks ----------------------------------------------------------------

    def last_ingest(self) -> JSONObject | None:
        return self.catalog.read_report()

    def record_ingest(self, report: JSONObject) -> None:
        self.catalog.write_report(report)

    @contextlib.contextmanager
    def ingest_lock(self, *, wait_seconds: float = 0.0) -> Iterator[None]:
        """One ingest at a time: per data directory, and with a server across machines."""
        with self.catalog.lock(wait_seconds=wait_seconds):
            yield


def _retired(pointer: JSONObject | None) -> list[JSONObject]:
    """The generations the pointer lists as retired (name, since), none when it has none."""
    return cast("list[JSONObject]", (pointer or {}).get("retired", []))
