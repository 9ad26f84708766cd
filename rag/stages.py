"""An optional hook that hears how long each stage of a search or an answer took, in the
manner of httpx's event hooks: ``Retriever`` and ``Answerer`` take one (``stage_hook``)
and call it with the stage's name and its seconds. Without a hook nothing is timed."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

StageHook = Callable[[str, float], None]  # (stage name, seconds)


@contextlib.contextmanager
def stage(hook: StageHook | None, name: str) -> Iterator[None]:
    """Time the block as stage ``name`` and tell ``hook`` (nothing without a hook)."""
    if hook is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        hook(name, time.perf_counter() - started)
