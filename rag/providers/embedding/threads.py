"""Calls that run with torch limited to a number of threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class ThreadLimit:
    """Runs a call with torch limited to some threads. torch's setting is process-wide,
    so limited calls are serialised; unlimited ones (``threads=None``) run as they come."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def run(self, threads: int | None, call: Callable[[], T]) -> T:
        if threads is None:
            return call()
        import torch

        with self._lock:
            previous = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                return call()
            finally:
                torch.set_num_threads(previous)
