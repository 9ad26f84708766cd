"""What the adapters for an LLM server (Ollama, OpenAI-compatible) share: the proxy rule,
the stream loop and the translation of client exceptions into one-line reasons.

The translation is a table from exception class to the reason it becomes
(``rag.errors.ExceptionTable``, the one style KORA uses for every outside library). Each
adapter writes its table; nothing else of the client libraries' exception zoo leaks past
``stream``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from rag.errors import ExceptionTable, LLMUnavailableError, look_up
from rag.providers.llm.base import FALLBACK, Message, estimate_tokens, one_line, to_llama_messages

if TYPE_CHECKING:
    from rag.settings import Settings

# exception class -> the one-line reason an instance of it (or of a subclass) becomes
ErrorTable = ExceptionTable[str]


class ServerChat:
    """The part of ``ChatModel`` that the adapters for an LLM server share: where it is,
    the token estimate, and ``stream`` over the llama-index integration in ``_llm``, with
    the adapter's error table (``_errors``) and its reason for a reply without a single
    response (``EMPTY_REPLY``). Constructing contacts nothing; ``stream`` does."""

    KIND = ""  # what the display name calls the server
    EMPTY_REPLY = ""  # formatted with the url and the fallback

    def __init__(self, settings: Settings, *, url: str) -> None:
        self.url = url.rstrip("/")
        self.model = settings.llm_model
        self.timeout = settings.llm_timeout
        self.name = f"{self.KIND} {settings.llm_model}"
        self.context_window = settings.llm_context_window
        self._llm: Any = None  # the adapter's llama-index integration

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def stream(self, messages: list[Message]) -> Iterator[str]:
        yield from stream_deltas(
            lambda: self._llm.stream_chat(to_llama_messages(messages)),
            errors=self._errors(),
            empty=self.EMPTY_REPLY.format(url=self.url, fallback=FALLBACK),
        )

    def _errors(self) -> ErrorTable:
        raise NotImplementedError


def is_loopback(url: str) -> bool:
    """Whether ``url`` points at this machine (localhost, 127.0.0.0/8, ::1)."""
    import ipaddress
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def trust_environment(url: str) -> bool:
    """httpx's ``trust_env`` for a server at ``url``. httpx sends even loopback requests
    through ``HTTP_PROXY`` unless ``NO_PROXY`` names the host, which would hand prompts
    (document excerpts included) to a proxy; for a server on this machine the proxy
    settings are therefore ignored, for any other host they apply as usual."""
    return not is_loopback(url)


def stream_deltas(chat: Callable[[], Iterable[Any]], *, errors: ErrorTable,
                  empty: str) -> Iterator[str]:
    """The text pieces of the llama-index chat stream that ``chat`` starts. An exception
    ``errors`` knows becomes ``LLMUnavailableError`` with its reason; a stream without a
    single response, which a server of the expected kind never sends, one with ``empty``."""
    received = 0
    try:
        for response in chat():
            received += 1
            if response.delta:
                yield response.delta
    except Exception as exc:
        reason = look_up(exc, errors)
        if reason is None:
            raise
        raise LLMUnavailableError(reason) from exc
    if received == 0:
        raise LLMUnavailableError(empty)


def connect_reason(exc: BaseException, *, text: str | None = None) -> str:
    """Why a connection failed, in a few words: ``text`` (default: the exception's own)."""
    text = str(exc) if text is None else text
    if "refused" in text.lower():
        return "connection refused"
    return one_line(text, limit=120) or type(exc).__name__
