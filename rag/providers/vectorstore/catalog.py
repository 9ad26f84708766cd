"""The catalog of a data directory: the pointer to the live generation, the last ingest
report, and the lock that lets one ingest run at a time; and where each generation's
docstore is kept.

Embedded (no ``KORA_CHROMA_URL``) all of it is files in the data directory; with a Chroma
server it lives in the server, where every worker and machine sees the same: pointer,
lease and report as records of ``kora-meta``, a generation's docstore in
``kora-kv-<generation>``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TypedDict

from llama_index.core.storage.kvstore.types import BaseKVStore

from rag.errors import KoraError
from rag.files import file_lock, read_json, write_json_atomic
from rag.jsontypes import JSONObject, as_float, as_int
from rag.providers.vectorstore.chroma import ChromaClient
from rag.providers.vectorstore.docstore import ChromaKVStore, SqliteKVStore
from rag.providers.vectorstore.generation import KV_PREFIX
from rag.settings import Settings

POINTER_FILE = "current.json"
LAST_INGEST_FILE = "last_ingest.json"
LOCK_FILE = "ingest.lock"
META_COLLECTION = "kora-meta"

# The ingest lease in a server: renewed while the ingest runs, free when its holder is
# gone (a process on this host that no longer exists, or a lease that was not renewed).
LEASE_SECONDS = 60.0
LEASE_RENEW_SECONDS = 15.0
# Chroma has no compare-and-set: a lease is taken by writing it and reading it back
# after a pause; of two ingests that both found it free, the later write wins and the
# other sees that and waits.
LEASE_CONFIRM_SECONDS = 0.25


def _local_ingest_lock(path: Path, *,
                       wait_seconds: float) -> contextlib.AbstractContextManager[None]:
    """One ingest at a time from this data directory (answers at once on this host)."""
    return file_lock(path / LOCK_FILE, wait_seconds=wait_seconds,
                     busy=f"Another ingest is running on {path}: wait for it to finish.")


class FileCatalog:
    """The embedded layout: everything in the data directory."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self, name: str) -> JSONObject | None:
        data = read_json(self.path / name)
        return data if isinstance(data, dict) else None

    def _write(self, name: str, data: JSONObject) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path / name, data)

    def read_pointer(self) -> JSONObject | None:
        return self._read(POINTER_FILE)

    def write_pointer(self, data: JSONObject) -> None:
        self._write(POINTER_FILE, data)

    def read_report(self) -> JSONObject | None:
        return self._read(LAST_INGEST_FILE)

    def write_report(self, report: JSONObject) -> None:
        self._write(LAST_INGEST_FILE, report)

    def lock(self, *, wait_seconds: float) -> contextlib.AbstractContextManager[None]:
        return _local_ingest_lock(self.path, wait_seconds=wait_seconds)

    def open_kv(self, generation_name: str) -> BaseKVStore:
        return SqliteKVStore(self.path / f"docstore-{generation_name}.sqlite")

    def drop_kv(self, generation_name: str) -> None:
        for leftover in self.path.glob(f"docstore-{generation_name}.sqlite*"):
            leftover.unlink(missing_ok=True)

    def kv_names(self) -> set[str]:
        return {p.name[len("docstore-"):].split(".sqlite")[0]
                for p in self.path.glob("docstore-*.sqlite*")}


class ChromaCatalog:
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

    def _read(self, record: str) -> JSONObject | None:
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

    def _write(self, record: str, data: JSONObject) -> None:
        with self.chroma.guarded():
            self._records().upsert(ids=[record], documents=[json.dumps(data, ensure_ascii=False)],
                                   embeddings=[[1.0]], metadatas=[{"kora": record}])

    def _delete(self, record: str) -> None:
        with self.chroma.guarded():
            self._records().delete(ids=[record])

    def read_pointer(self) -> JSONObject | None:
        return self._read("live")

    def write_pointer(self, data: JSONObject) -> None:
        self._write("live", data)

    def read_report(self) -> JSONObject | None:
        return self._read("last-ingest")

    def write_report(self, report: JSONObject) -> None:
        self._write("last-ingest", report)

    @contextlib.contextmanager
    def lock(self, *, wait_seconds: float) -> Iterator[None]:
        # the file lock answers at once for a second ingest from the same data directory;
        # the lease in the server covers every other machine
        with _local_ingest_lock(self.path, wait_seconds=wait_seconds):
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


class _Claim(TypedDict):
    """Who holds the ingest lease: written with its expiry into the catalog."""

    owner: str
    host: str
    pid: int
    data_dir: str


class _Lease:
    """One ingest at a time across machines: a record in the server names its holder and
    when the claim ends; the holder renews it while it works."""

    RECORD = "ingest-lease"
    # leases this process holds now: a claim that names this process but is not among
    # them was left by an ingest here that could not release it (the server was down)
    _held: ClassVar[set[str]] = set()
    _held_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, catalog: ChromaCatalog, *, path: Path, url: str) -> None:
        self.catalog = catalog
        self.url = url
        self.claim: _Claim = {"owner": uuid.uuid4().hex, "host": socket.gethostname(),
                              "pid": os.getpid(), "data_dir": str(path.resolve())}
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def _held_elsewhere(self, holder: JSONObject | None) -> bool:
        if not holder or holder.get("owner") == self.claim["owner"]:
            return False
        if as_float(holder.get("expires", 0)) < time.time():
            return False
        if holder.get("host") == self.claim["host"]:
            if as_int(holder.get("pid", 0)) == os.getpid():
                with self._held_lock:
                    return holder.get("owner") in self._held
            return _process_exists(as_int(holder.get("pid", 0)))
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
                    until = datetime.fromtimestamp(as_float(holder["expires"]), UTC)
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


Catalog = FileCatalog | ChromaCatalog
