"""The index: its generations in Chroma, their docstores, and the pointer to the live one.

Every ingest writes into a *generation*: one Chroma collection of chunks, plus the
docstore that llama-index's UPSERTS strategy deduplicates with, the file hashes and the
journal of the batch in progress. A pointer names the live generation, the embedding
model it was built with, and a version that every ingest which changed something
increases: a reader compares that version with the one it serves and reopens when it
moved. ``kora ingest --rebuild`` builds a new generation beside the live one and moves
the pointer only when it is complete, so an interrupted rebuild leaves the previous index
in service.

Where these live depends on the set-up:

- embedded (no ``KORA_CHROMA_URL``), as before: all in the data directory. Chroma in
  ``chroma/``, the pointer in ``current.json``, the docstore in
  ``docstore-<generation>.sqlite``, the last report in ``last_ingest.json``, one ingest at
  a time by a file lock.
- a Chroma server: whatever several workers and machines must agree on lives in the
  server. Collection ``kora-meta`` holds the pointer, the ingest lease and the last
  report; collection ``kora-kv-<generation>`` the docstore, file hashes and journal of one
  generation. The data directory keeps only what each process derives for itself (the
  keyword index), so each worker may have its own.

A replaced generation is dropped at once when nobody else can be reading it (the embedded
command line); otherwise (a server, or the web app's own chat) it is kept for a grace
period so that questions under way finish on it, and dropped by a later ingest.

Chroma's API stays in this module; failures to reach the server become one
``IndexUnavailableError`` line here.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

from llama_index.core.storage.kvstore.types import DEFAULT_COLLECTION, BaseKVStore

from rag.errors import EmptyIndexError, IndexModelMismatchError, IndexUnavailableError, KoraError
from rag.providers.keyword import MANIFEST
from rag.providers.vectorstore.docstore import SqliteKVStore
from rag.settings import Settings

POINTER_FILE = "current.json"
LAST_INGEST_FILE = "last_ingest.json"
LOCK_FILE = "ingest.lock"
KEYWORD_LOCK_FILE = "keyword.lock"
COLLECTION_PREFIX = "kora-"
KV_PREFIX = "kora-kv-"
META_COLLECTION = "kora-meta"
FILE_STATE_COLLECTION = "kora/files"
PENDING_COLLECTION = "kora/pending"
# generation names start with their time stamp; "kora-meta" and "kora-kv-..." do not
_GENERATION_NAME = re.compile(r"^\d{14}-[0-9a-z-]+$")
_REFUSED = re.compile(r"\b(401|403|unauthori[sz]ed|forbidden)\b", re.IGNORECASE)

# A replaced generation stays readable this long where others may still read it: a
# worker notices the switch within KORA_INDEX_POLL_SECONDS, and its questions under way
# (an LLM answer can take two minutes) finish on the old one.
RETIRED_GRACE_SECONDS = 900.0
# The ingest lease in a server: renewed while the ingest runs, free when its holder is
# gone (a process on this host that no longer exists, or a lease that was not renewed).
LEASE_SECONDS = 60.0
LEASE_RENEW_SECONDS = 15.0
# Chroma has no compare-and-set: a lease is taken by writing it and reading it back
# after a pause; of two ingests that both found it free, the later write wins and the
# other sees that and waits.
LEASE_CONFIRM_SECONDS = 0.25
# one upsert request of the server docstore stays well below Chroma's 40 MiB payload limit
KV_BATCH_BYTES = 4_000_000
KV_READ_PAGE = 5_000


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` so that readers see either the old or the new file, never half."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
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
    # raised by every ingest that changed the index; 0 for a generation never published
    version: int = 0

    @property
    def collection_name(self) -> str:
        return COLLECTION_PREFIX + self.name

    @property
    def key(self) -> tuple[str, int]:
        """What a reader compares to know whether it serves the live index."""
        return self.name, self.version

    @classmethod
    def new(cls, *, embedding_model: str, dimension: int) -> Generation:
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        # the random part keeps two machines that start a rebuild in one second apart
        return cls(f"{stamp}-{os.getpid()}-{secrets.token_hex(2)}", embedding_model, dimension)

    @classmethod
    def from_pointer(cls, data: dict[str, Any]) -> Generation:
        return cls(str(data["name"]), str(data["embedding_model"]), int(data["dimension"]),
                   int(data.get("version", 0)))

    def as_pointer(self) -> dict[str, Any]:
        return {"name": self.name, "embedding_model": self.embedding_model,
                "dimension": self.dimension, "version": self.version}


# --- talking to Chroma -------------------------------------------------------------------


def _failure_reason(exc: BaseException) -> tuple[str, str] | None:
    """("unreachable" | "refused", short reason) when ``exc`` (or its cause) says the
    Chroma server could not be reached or turned KORA away; None for anything else."""
    import httpx

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current)
        if isinstance(current, httpx.TimeoutException):
            return "unreachable", "no answer in time"
        if isinstance(current, httpx.TransportError):
            return "unreachable", type(current).__name__
        if isinstance(current, ConnectionError):
            return "unreachable", type(current).__name__
        if "Could not connect to a Chroma server" in text:
            return "unreachable", "connection refused"
        if type(current).__name__ in ("AuthorizationError", "ChromaAuthError") or (
                _REFUSED.search(text)):
            return "refused", text.splitlines()[0][:80] if text else type(current).__name__
        current = current.__cause__ or current.__context__
    return None


def unavailable_error(settings: Settings, exc: BaseException) -> IndexUnavailableError | None:
    """The one line for a Chroma server that ``exc`` says is down or refused KORA, or
    None when ``exc`` is something else (or there is no server)."""
    if not settings.chroma_url:
        return None
    found = _failure_reason(exc)
    if found is None:
        return None
    kind, reason = found
    url = settings.chroma_url
    if kind == "refused":
        if settings.chroma_token:
            return IndexUnavailableError(
                f"The Chroma server at {url} refused KORA's token ({reason}): check "
                "KORA_CHROMA_TOKEN (and KORA_CHROMA_TOKEN_HEADER) against what the server "
                "or its proxy expects.")
        return IndexUnavailableError(
            f"The Chroma server at {url} requires authentication ({reason}): set "
            "KORA_CHROMA_TOKEN to its token.")
    return IndexUnavailableError(
        f"The Chroma server at {url} is not reachable ({reason}): start it (`chroma run "
        "--path DIR --port PORT`) or set KORA_CHROMA_URL to where it runs.")


@contextlib.contextmanager
def _translated(settings: Settings) -> Iterator[None]:
    """Chroma calls inside raise one IndexUnavailableError line when the server is down."""
    try:
        yield
    except KoraError:
        raise
    except Exception as exc:
        problem = unavailable_error(settings, exc)
        if problem is not None:
            raise problem from exc
        raise


def _auth_headers(settings: Settings) -> dict[str, str]:
    if not settings.chroma_token:
        return {}
    if settings.chroma_token_header == "Authorization":
        return {"Authorization": f"Bearer {settings.chroma_token}"}
    return {settings.chroma_token_header: settings.chroma_token}


def probe_server(settings: Settings) -> None:
    """Ask the server's heartbeat before building a client, so that a wrong address, a
    server that is down and a refused token each get their own clear line (Chroma's
    client reports all three as "Could not connect")."""
    import httpx

    assert settings.chroma_url
    url = settings.chroma_url.rstrip("/") + "/api/v2/heartbeat"
    try:
        response = httpx.get(url, headers=_auth_headers(settings),
                             timeout=min(10.0, settings.chroma_timeout))
    except httpx.HTTPError as exc:
        problem = unavailable_error(settings, exc)
        raise problem or IndexUnavailableError(
            f"The Chroma server at {settings.chroma_url} is not reachable "
            f"({type(exc).__name__}): check KORA_CHROMA_URL.") from exc
    if response.status_code in (401, 403):
        raise unavailable_error(settings, PermissionError(f"HTTP {response.status_code} "
                                                          "Unauthorized")) or KoraError("")
    if response.status_code >= 500:
        raise IndexUnavailableError(
            f"The Chroma server at {settings.chroma_url} is not ready (HTTP "
            f"{response.status_code}): check the server's log.")
    if response.status_code != 200:
        raise KoraError(
            f"{settings.chroma_url} does not answer like a Chroma 1.x server (HTTP "
            f"{response.status_code} for /api/v2/heartbeat): check KORA_CHROMA_URL.")


class ChromaClient:
    """One Chroma client per data directory and process (Chroma requires that)."""

    def __init__(self, settings: Settings) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.settings = settings
        self.url = settings.chroma_url
        options: dict[str, Any] = {"anonymized_telemetry": False, "allow_reset": False}
        if settings.chroma_url:
            probe_server(settings)
            if settings.chroma_token:
                options.update(
                    chroma_client_auth_provider="chromadb.auth.token_authn.TokenAuthClientProvider",
                    chroma_client_auth_credentials=settings.chroma_token,
                    chroma_auth_token_transport_header=settings.chroma_token_header,
                )
            url = urlparse(settings.chroma_url)
            with _translated(settings):
                self.client = chromadb.HttpClient(
                    host=url.hostname or "localhost",
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=ChromaSettings(**options),
                )
            self._limit_wait(settings.chroma_timeout)
        else:
            path = settings.data_dir / "chroma"
            path.mkdir(parents=True, exist_ok=True)
            self.client = chromadb.PersistentClient(path=str(path),
                                                    settings=ChromaSettings(**options))

    def _limit_wait(self, seconds: float) -> None:
        """Chroma's HTTP client waits forever for an answer; a hung server would hold
        every question. Its session is private, so this is best effort."""
        import httpx

        session = getattr(getattr(self.client, "_server", None), "_session", None)
        if isinstance(session, httpx.Client):
            session.timeout = httpx.Timeout(seconds, connect=min(seconds, 10.0))

    def guarded(self) -> contextlib.AbstractContextManager[None]:
        return _translated(self.settings)

    def collection(self, generation: Generation, *, create: bool) -> Any:
        with self.guarded():
            if create:
                return self.client.get_or_create_collection(
                    name=generation.collection_name,
                    embedding_function=None,
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={"embedding_model": generation.embedding_model,
                              "dimension": generation.dimension},
                )
            return self.client.get_collection(name=generation.collection_name,
                                              embedding_function=None)

    def plain_collection(self, name: str) -> Any:
        """A collection of KORA's own records (pointer, lease, docstore): the vectors
        are a constant placeholder, Chroma only stores and filters the records."""
        with self.guarded():
            try:
                return self.client.get_or_create_collection(name=name, embedding_function=None)
            except Exception:
                # two processes creating it at the same moment: the other one won
                return self.client.get_collection(name=name, embedding_function=None)

    def drop(self, generation_name: str) -> None:
        for name in (COLLECTION_PREFIX + generation_name, KV_PREFIX + generation_name):
            with contextlib.suppress(Exception):
                self.client.delete_collection(name)

    def collection_names(self) -> list[str]:
        with self.guarded():
            return [str(getattr(c, "name", c)) for c in self.client.list_collections()]

    def generation_names(self) -> list[str]:
        """Generations that have a chunk collection or a server docstore in Chroma."""
        names: list[str] = []
        for collection in self.collection_names():
            for prefix in (KV_PREFIX, COLLECTION_PREFIX):
                if collection.startswith(prefix):
                    name = collection[len(prefix):]
                    if _GENERATION_NAME.match(name) and name not in names:
                        names.append(name)
                    break
        return names


class ChromaKVStore(BaseKVStore):
    """llama-index's key-value store on a Chroma collection: the docstore, file hashes
    and ingest journal of a generation where every machine can see them. One record per
    key, written as it happens (the same crash safety as the SQLite store)."""

    def __init__(self, collection: Any, guard: Any) -> None:
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


# --- where the pointer, the docstores and the lock live ---------------------------------


@contextlib.contextmanager
def _file_lock(path: Path, *, wait_seconds: float | None, busy: str) -> Iterator[None]:
    """An exclusive lock on ``path``; ``wait_seconds`` None waits as long as it takes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        if wait_seconds is None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + wait_seconds
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError as exc:
                    if time.monotonic() >= deadline:
                        raise KoraError(busy) from exc
                    time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class _FileCatalog:
    """The embedded layout: everything in the data directory."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read_pointer(self) -> dict[str, Any] | None:
        data = read_json(self.path / POINTER_FILE)
        return data if isinstance(data, dict) else None

    def write_pointer(self, data: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path / POINTER_FILE, data)

    def read_report(self) -> dict[str, Any] | None:
        data = read_json(self.path / LAST_INGEST_FILE)
        return data if isinstance(data, dict) else None

    def write_report(self, report: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path / LAST_INGEST_FILE, report)

    @contextlib.contextmanager
    def lock(self, *, wait_seconds: float) -> Iterator[None]:
        with _file_lock(self.path / LOCK_FILE, wait_seconds=wait_seconds,
                        busy=f"Another ingest is running on {self.path}: wait for it to "
                             "finish."):
            yield

    def open_kv(self, generation_name: str) -> BaseKVStore:
        return SqliteKVStore(self.path / f"docstore-{generation_name}.sqlite")

    def drop_kv(self, generation_name: str) -> None:
        for leftover in self.path.glob(f"docstore-{generation_name}.sqlite*"):
            leftover.unlink(missing_ok=True)

    def kv_names(self) -> set[str]:
        return {p.name[len("docstore-"):].split(".sqlite")[0]
                for p in self.path.glob("docstore-*.sqlite*")}


class _ChromaCatalog:
    """The server layout: pointer, lease and report as records of ``kora-meta``, each
    generation's docstore in ``kora-kv-<generation>``."""

    def __init__(self, chroma: ChromaClient, path: Path, settings: Settings) -> None:
        self.chroma = chroma
        self.path = path
        self.settings = settings
        self._meta: Any = None

    def _records(self) -> Any:
        if self._meta is None:
            self._meta = self.chroma.plain_collection(META_COLLECTION)
        return self._meta

    def _read(self, record: str) -> dict[str, Any] | None:
        with self.chroma.guarded():
            try:
                found = self._records().get(ids=[record], include=["documents"])
            except Exception as exc:
                if type(exc).__name__ != "NotFoundError":
                    raise
                # the server lost its data or was replaced: look the collection up again
                self._meta = None
                found = self._records().get(ids=[record], include=["documents"])
        documents = found.get("documents") or []
        if not documents or documents[0] is None:
            return None
        data = json.loads(documents[0])
        return data if isinstance(data, dict) else None

    def _write(self, record: str, data: dict[str, Any]) -> None:
        with self.chroma.guarded():
            self._records().upsert(ids=[record], documents=[json.dumps(data, ensure_ascii=False)],
                                   embeddings=[[1.0]], metadatas=[{"kora": record}])

    def _delete(self, record: str) -> None:
        with self.chroma.guarded():
            self._records().delete(ids=[record])

    def read_pointer(self) -> dict[str, Any] | None:
        return self._read("live")

    def write_pointer(self, data: dict[str, Any]) -> None:
        self._write("live", data)

    def read_report(self) -> dict[str, Any] | None:
        return self._read("last-ingest")

    def write_report(self, report: dict[str, Any]) -> None:
        self._write("last-ingest", report)

    @contextlib.contextmanager
    def lock(self, *, wait_seconds: float) -> Iterator[None]:
        # the file lock answers at once for a second ingest from the same data directory;
        # the lease in the server covers every other machine
        with _file_lock(self.path / LOCK_FILE, wait_seconds=wait_seconds,
                        busy=f"Another ingest is running on {self.path}: wait for it to "
                             "finish."):
            lease = _Lease(self, path=self.path, url=self.settings.chroma_url or "")
            lease.acquire(wait_seconds=wait_seconds)
            try:
                yield
            finally:
                lease.release()

    def open_kv(self, generation_name: str) -> BaseKVStore:
        collection = self.chroma.plain_collection(KV_PREFIX + generation_name)
        return ChromaKVStore(collection, self.chroma.guarded)

    def drop_kv(self, generation_name: str) -> None:
        with contextlib.suppress(Exception):
            self.chroma.client.delete_collection(KV_PREFIX + generation_name)

    def kv_names(self) -> set[str]:
        return set()  # listed with the chunk collections (ChromaClient.generation_names)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Lease:
    """One ingest at a time across machines: a record in the server names its holder and
    when the claim ends; the holder renews it while it works."""

    RECORD = "ingest-lease"
    # leases this process holds now: a claim that names this process but is not among
    # them was left by an ingest here that could not release it (the server was down)
    _held: ClassVar[set[str]] = set()
    _held_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, catalog: _ChromaCatalog, *, path: Path, url: str) -> None:
        self.catalog = catalog
        self.url = url
        self.claim: dict[str, Any] = {"owner": uuid.uuid4().hex, "host": socket.gethostname(),
                      "pid": os.getpid(), "data_dir": str(path.resolve())}
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def _held_elsewhere(self, holder: dict[str, Any] | None) -> bool:
        if not holder or holder.get("owner") == self.claim["owner"]:
            return False
        if float(holder.get("expires", 0)) < time.time():
            return False
        if holder.get("host") == self.claim["host"]:
            if int(holder.get("pid", 0)) == os.getpid():
                with self._held_lock:
                    return holder.get("owner") in self._held
            return _process_exists(int(holder.get("pid", 0)))
        return True

    def _write(self) -> None:
        self.catalog._write(self.RECORD, {**self.claim, "expires": time.time() + LEASE_SECONDS})

    def acquire(self, *, wait_seconds: float) -> None:
        deadline = time.monotonic() + wait_seconds
        while True:
            holder = self.catalog._read(self.RECORD)
            if self._held_elsewhere(holder):
                if time.monotonic() >= deadline:
                    assert holder is not None
                    until = datetime.fromtimestamp(float(holder["expires"]), UTC)
                    raise KoraError(
                        f"Another ingest into the Chroma server {self.url} is running (host "
                        f"{holder.get('host')}, process {holder.get('pid')}): wait for it to "
                        "finish. If that process died, its claim ends at "
                        f"{until:%H:%M:%S} UTC unless renewed.")
                time.sleep(1.0)
                continue
            self._write()
            time.sleep(LEASE_CONFIRM_SECONDS)
            holder = self.catalog._read(self.RECORD)
            if holder and holder.get("owner") == self.claim["owner"]:
                break
        with self._held_lock:
            self._held.add(self.claim["owner"])
        self._renewer = threading.Thread(target=self._renew, name="kora-ingest-lease",
                                         daemon=True)
        self._renewer.start()

    def _renew(self) -> None:
        while not self._stop.wait(LEASE_RENEW_SECONDS):
            with contextlib.suppress(Exception):  # a server that is down fails the ingest
                holder = self.catalog._read(self.RECORD)
                if not holder or holder.get("owner") != self.claim["owner"]:
                    return
                self._write()

    def release(self) -> None:
        with self._held_lock:
            self._held.discard(self.claim["owner"])
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        # a server that is down keeps the lease; the next ingest from this host sees that
        # this process is gone, any other waits for the claim to end
        with contextlib.suppress(Exception):
            holder = self.catalog._read(self.RECORD)
            if holder and holder.get("owner") == self.claim["owner"]:
                self.catalog._delete(self.RECORD)


# --- one generation, opened -------------------------------------------------------------


class Index:
    """One generation of the index, opened for reading or writing."""

    def __init__(self, data_dir: DataDir, generation: Generation, collection: Any) -> None:
        self.data_dir = data_dir
        self.generation = generation
        self.collection = collection
        self._kvstore: BaseKVStore | None = None
        self._kv_lock = threading.Lock()

    @property
    def kvstore(self) -> BaseKVStore:
        """The generation's docstore, file hashes and journal (opened on first use)."""
        with self._kv_lock:
            if self._kvstore is None:
                self._kvstore = self.data_dir.catalog.open_kv(self.generation.name)
            return self._kvstore

    @property
    def keyword_dir(self) -> Path:
        return self.data_dir.path / f"keyword-{self.generation.name}"

    def _guarded(self) -> contextlib.AbstractContextManager[None]:
        return _translated(self.data_dir.settings)

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

    # --- the chunks ---------------------------------------------------------------------

    def chunk_count(self) -> int:
        with self._guarded():
            return int(self.collection.count())

    def nearest(self, embedding: list[float], *, limit: int,
                where: dict[str, Any] | None) -> list[tuple[str, str, dict[str, Any], float]]:
        """(chunk id, text, metadata, cosine distance) of the ``limit`` nearest chunks."""
        with self._guarded():
            result = self.collection.query(
                query_embeddings=[embedding], n_results=limit, where=where,
                include=["documents", "metadatas", "distances"],
            )
        return list(zip(result["ids"][0], result["documents"][0], result["metadatas"][0],
                        result["distances"][0], strict=True))

    def chunks(self, ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """chunk id -> (text, metadata) for those of ``ids`` that exist."""
        with self._guarded():
            data = self.collection.get(ids=list(ids), include=["documents", "metadatas"])
        return {cid: (text, meta) for cid, text, meta in
                zip(data["ids"], data["documents"], data["metadatas"], strict=True)}

    def chunk_pages(self, page_size: int, *, texts: bool = True
                    ) -> Iterator[tuple[list[str], list[str], list[dict[str, Any]]]]:
        """Every chunk, in pages: (ids, texts, metadatas). Paged because embedded Chroma
        turns one get into one SQL statement, and SQLite allows 32,766 variables."""
        include = ["documents", "metadatas"] if texts else ["metadatas"]
        offset = 0
        while True:
            with self._guarded():
                page = self.collection.get(include=include, limit=page_size, offset=offset)
            documents = page["documents"] if texts else [""] * len(page["ids"])
            yield page["ids"], documents, page["metadatas"]
            if len(page["ids"]) < page_size:
                return
            offset += page_size

    def close(self) -> None:
        with self._kv_lock:
            kvstore, self._kvstore = self._kvstore, None
        close = getattr(kvstore, "close", None)
        if close is not None:
            close()


# --- the data directory -------------------------------------------------------------------


class DataDir:
    """Which generation is live, and how to open, replace and tidy it.

    ``serving``: this process also answers questions from the index (the web app), so a
    replaced generation is kept for its questions under way even without a server."""

    def __init__(self, settings: Settings, *, serving: bool = False) -> None:
        self.settings = settings
        self.path = settings.data_dir
        self.serving = serving
        self._chroma: ChromaClient | None = None
        self._catalog: _FileCatalog | _ChromaCatalog | None = None
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
    def catalog(self) -> _FileCatalog | _ChromaCatalog:
        if self._catalog is None:
            self._catalog = (_ChromaCatalog(self.chroma, self.path, self.settings)
                             if self.shared else _FileCatalog(self.path))
        return self._catalog

    @property
    def retire_grace_seconds(self) -> float:
        return RETIRED_GRACE_SECONDS if self.shared or self.serving else 0.0

    def unavailable(self, exc: BaseException) -> IndexUnavailableError | None:
        """The one line for ``exc`` if it means the Chroma server is down, else None."""
        return unavailable_error(self.settings, exc)

    # --- the pointer --------------------------------------------------------------------

    def _pointer(self) -> dict[str, Any] | None:
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
        retired = [entry for entry in (old or {}).get("retired", [])
                   if entry.get("name") != index.generation.name]
        if previous is not None and previous.name != index.generation.name:
            retired.append({"name": previous.name, "since": now})
        built = index.generation
        published = replace(built, version=(previous.version if previous else 0) + 1)
        self.catalog.write_pointer({**published.as_pointer(), "retired": retired,
                                    "published_at": datetime.now(UTC).isoformat(
                                        timespec="seconds")})
        index.generation = published
        self._relabel_keyword_index(index.keyword_dir, built, published)
        self.remove_stale_generations(keep=published.name)

    def _relabel_keyword_index(self, directory: Path, built: Generation,
                               published: Generation) -> None:
        """The keyword index this process built from the chunks it just published is
        current for the new version too; say so, so that it is not built again."""
        manifest_path = directory / MANIFEST
        with self.keyword_lock():
            manifest = read_json(manifest_path) if manifest_path.exists() else None
            if not isinstance(manifest, dict):
                return
            if (manifest.get("generation", built.name) == built.name
                    and int(manifest.get("version", 0)) == built.version):
                write_json_atomic(manifest_path, {**manifest, "generation": published.name,
                                                  "version": published.version})

    def remove_stale_generations(self, *, keep: str) -> None:
        """Drop leftovers of replaced or interrupted generations; a replaced one only
        after the grace period when others may still be reading it."""
        data = self._pointer() or {}
        now = time.time()
        grace = self.retire_grace_seconds
        kept_retired = [entry for entry in data.get("retired", [])
                        if entry.get("name") != keep and now - float(entry.get("since", 0)) < grace]
        protected = {keep, *(entry["name"] for entry in kept_retired)}
        names = set(self.chroma.generation_names()) | self.catalog.kv_names()
        for name in names - protected:
            self._drop(name)
        if data and len(kept_retired) != len(data.get("retired", [])):
            self.catalog.write_pointer({**data, "retired": kept_retired})
        for leftover in self.path.glob("keyword-*"):
            if not any(leftover.name.startswith(f"keyword-{name}") for name in protected):
                shutil.rmtree(leftover, ignore_errors=True)

    def _drop(self, name: str) -> None:
        self.chroma.drop(name)
        self.catalog.drop_kv(name)
        shutil.rmtree(self.path / f"keyword-{name}", ignore_errors=True)

    def forget(self, generation_name: str) -> None:
        """This process no longer reads ``generation_name``: remove its own files for it,
        and, where no other process can be reading it (embedded), the generation too."""
        live = self.current()
        if live is not None and live.name == generation_name:
            return
        shutil.rmtree(self.path / f"keyword-{generation_name}", ignore_errors=True)
        if self.shared:
            return
        data = self._pointer()
        if data is not None:
            retired = [e for e in data.get("retired", []) if e.get("name") != generation_name]
            if len(retired) != len(data.get("retired", [])):
                self.catalog.write_pointer({**data, "retired": retired})
        self._drop(generation_name)

    # --- reports and locks ----------------------------------------------------------------

    def last_ingest(self) -> dict[str, Any] | None:
        return self.catalog.read_report()

    def record_ingest(self, report: dict[str, Any]) -> None:
        self.catalog.write_report(report)

    @contextlib.contextmanager
    def ingest_lock(self, *, wait_seconds: float = 0.0) -> Iterator[None]:
        """One ingest at a time: per data directory, and with a server across machines."""
        with self.catalog.lock(wait_seconds=wait_seconds):
            yield

    def keyword_lock(self) -> contextlib.AbstractContextManager[None]:
        """One keyword index build at a time per data directory (workers and ingests)."""
        return _file_lock(self.path / KEYWORD_LOCK_FILE, wait_seconds=None, busy="")
