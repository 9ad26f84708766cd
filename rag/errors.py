"""Errors a user can cause or fix. Each carries one line that says what to do."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

# How KORA translates an outside library's exceptions, everywhere the same: a table from
# exception class to what an instance of it (or of a subclass) becomes, looked up along
# the raised exception's class hierarchy (most specific class first), as httpx maps
# httpcore's exceptions to its own. An entry may answer None: "not one of ours".
ExceptionTable = Mapping[type[BaseException], Callable[[Any], T | None]]


class KoraError(Exception):
    """A failure shown to the user as one line, never as a traceback."""


class ModelNotFoundError(KoraError):
    pass


class EmptyIndexError(KoraError):
    pass


class IndexModelMismatchError(KoraError):
    pass


class ReaderError(KoraError):
    """A file that cannot be read; the message is the reason shown in the ingest report."""


class UsageError(KoraError):
    """A wrong argument, such as a path that does not exist; the command line exits with 2."""


class LLMUnavailableError(KoraError):
    """The configured LLM server cannot be reached or refused the request."""


class IndexUnavailableError(KoraError):
    """The Chroma server cannot be reached, or refused KORA's token. Passes when the
    server is back: the web app keeps running and answers again by itself."""


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it was raised from or during (``__cause__``, else
    ``__context__``), innermost last; a library's own wrapper often hides the real
    reason one or two links down. Stops at a loop."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def look_up(exc: BaseException, table: ExceptionTable[T]) -> T | None:
    """What ``table`` makes of ``exc``: the entry of its most specific class decides
    (None: the table does not know it)."""
    for cls in type(exc).__mro__:
        translate = table.get(cls)
        if translate is not None:
            return translate(exc)
    return None


def look_up_causes(exc: BaseException, table: ExceptionTable[T]) -> T | None:
    """What ``table`` makes of the first of ``exc`` and its causes it knows."""
    for current in causes(exc):
        found = look_up(current, table)
        if found is not None:
            return found
    return None
