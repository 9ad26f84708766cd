"""Errors a user can cause or fix. Each carries one line that says what to do."""

from __future__ import annotations

from collections.abc import Iterator


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
