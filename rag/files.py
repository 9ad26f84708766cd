"""Files that several processes share: an exclusive lock, and JSON written whole (a
reader sees either the old file or the new one, never half)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.errors import KoraError


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


@contextlib.contextmanager
def file_lock(path: Path, *, wait_seconds: float | None, busy: str) -> Iterator[None]:
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
