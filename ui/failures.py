"""The one line a person sees when something fails.

Only a ``KoraError`` speaks to the user: its message says what to do. Anything else is a
bug or an outage whose text (paths, library internals) is no help in the chat and may
say more than it should, so it goes to the server log with its traceback and the user
sees a generic line.
"""

from __future__ import annotations

import logging

from rag.errors import EmptyIndexError, IndexUnavailableError, KoraError
from ui import strings as S

log = logging.getLogger(__name__)


def failure_line(template: str, exc: BaseException) -> str:
    """``template`` with its ``{error}`` filled: a KoraError's first line, or the generic
    line (the exception logged for the operator)."""
    if isinstance(exc, KoraError):
        return template.format(error=str(exc).splitlines()[0] if str(exc) else "")
    log.exception("unexpected failure", exc_info=exc)
    return template.format(error=S.UNEXPECTED_ERROR)


def answer_failure(exc: BaseException) -> str:
    """The German line shown in the chat when a question could not be answered."""
    if isinstance(exc, IndexUnavailableError):
        return S.INDEX_UNREACHABLE
    if isinstance(exc, EmptyIndexError):
        return S.INDEX_EMPTY
    return failure_line(S.ANSWER_FAILED, exc)


__all__ = ["answer_failure", "failure_line"]
