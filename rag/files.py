"""Files that several processes share: an exclusive lock, and files (JSON, text, whole
folders) replaced whole: a reader sees either the old one or the new one, never half.
Every place in KORA that locks a file or replaces one in place goes through here."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from rag.errors import KoraError


def _temporary_beside(path: Path, suffix: str = "tmp") -> Path:
    """A hidden name next to ``path`` that no other process or thread uses (an ingest
    skips dot files, so a half-written file in the corpus is never read as a document)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.{suffix}")


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` so that readers see either the old or the new file, never half."""
    temporary = _temporary_beside(path)
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: object) -> None:
    """Write ``data`` as JSON so that readers see either the old or the new file."""
    write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=2))


def temporary_folder_for(directory: Path) -> Path:
    """An empty hidden folder beside ``directory`` to build its replacement in."""
    temporary = _temporary_beside(directory)
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    return temporary


def replace_folder(directory: Path, *, with_folder: Path) -> None:
    """Put ``with_folder`` in the place of ``directory`` (two renames: a reader finds the
    old folder, the new one, or for an instant none, never a mixture)."""
    old = _temporary_beside(directory, "old")
    if directory.exists():
        os.replace(directory, old)
    os.replace(with_folder, directory)
    shutil.rmtree(old, ignore_errors=True)


def read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


@contextlib.contextmanager
def file_lock(path: Path, *, wait_seconds: float | None = None,
              busy: str = "") -> Iterator[None]:
    """An exclusive lock on ``path``; ``wait_seconds`` None waits as long as it takes,
    otherwise a lock still held after that long raises ``KoraError(busy)``."""
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
