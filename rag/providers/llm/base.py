"""The contract every LLM adapter fulfils (``Message``, ``ChatModel``) and the helpers
they share: message conversion, token estimates, one-line reasons, install hints.

Adapters import from here, never from the package ``__init__``, which imports them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from rag.errors import LLMUnavailableError

if TYPE_CHECKING:
    from llama_index.core.base.llms.types import ChatMessage

# Servers without a local tokenizer (Ollama, OpenAI-compatible) get an estimate. German
# words split into more tokens than English ones, so three characters per token errs
# towards counting too many: that costs a little context, it never overflows the window.
CHARS_PER_TOKEN = 3.0
# How every "the LLM cannot answer" message ends
FALLBACK = "or set KORA_LLM=none for extractive answers"


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


class ChatModel(Protocol):
    name: str
    context_window: int

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` for this model (an estimate where the server has no tokenizer)."""
        ...

    def stream(self, messages: list[Message]) -> Iterator[str]:
        """Yield the answer in pieces; raises ``LLMUnavailableError`` with a one-line reason."""
        ...


def estimate_tokens(text: str) -> int:
    """Tokens of ``text`` for a model whose tokenizer is not available here (an upper-side
    estimate, safe for German)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def one_line(text: object, *, limit: int = 200) -> str:
    """``text`` as a single line of at most ``limit`` characters, for error messages."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def import_llama_llm(module: str, class_name: str, *, package: str) -> Any:
    """``module.class_name`` from a llama-index integration, or a one-line install hint."""
    import importlib

    try:
        return getattr(importlib.import_module(module), class_name)
    except ImportError as exc:
        raise LLMUnavailableError(
            f"This LLM backend needs the package {package}, which is not installed "
            f"({one_line(exc)}): run `pip install {package}` {FALLBACK}."
        ) from exc


def to_llama_messages(messages: Sequence[Message]) -> list[ChatMessage]:
    """KORA's messages as llama-index ``ChatMessage`` objects (text only)."""
    from llama_index.core.base.llms.types import ChatMessage, MessageRole

    return [ChatMessage(role=MessageRole(m.role), content=m.content) for m in messages]
