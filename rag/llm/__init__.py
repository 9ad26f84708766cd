"""LLM backends: one adapter module per kind of server, chosen by ``settings.llm``.

The whole contract is ``ChatModel``: a display name, a context window, a token counter
for packing sources, and ``stream(messages)`` that yields text pieces.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from rag.llm.ollama import OllamaChat, ollama_answers_quickly
from rag.llm.openai_compat import OpenAICompatibleChat
from rag.llm.transformers_local import TransformersChat

if TYPE_CHECKING:
    from rag.settings import Settings

__all__ = [
    "ChatModel",
    "Message",
    "OllamaChat",
    "OpenAICompatibleChat",
    "TransformersChat",
    "load_llm",
    "ollama_answers_quickly",
]


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


def load_llm(settings: Settings) -> tuple[ChatModel | None, str]:
    """The answer generator ``settings.llm`` asks for (None: extractive answers) and one
    line that says what was chosen. Only ``auto`` contacts a server here (a short probe);
    the other backends reach theirs on the first ``stream`` call."""
    kind = settings.llm
    if kind == "none":
        return None, "none: extractive answers"
    if kind == "auto":
        url = settings.ollama_url.rstrip("/")
        if ollama_answers_quickly(settings):
            return (
                OllamaChat(settings),
                f"auto: Ollama answered at {url}, using {settings.llm_model}",
            )
        return (
            None,
            f"auto: no Ollama answered at {url} within {settings.llm_auto_probe_seconds:g} s, "
            "extractive answers",
        )
    if kind == "ollama":
        return (
            OllamaChat(settings),
            f"ollama: {settings.llm_model} at {settings.ollama_url.rstrip('/')}",
        )
    if kind == "openai":
        return (
            OpenAICompatibleChat(settings),
            f"openai: {settings.llm_model} at {settings.openai_base_url.rstrip('/')}",
        )
    model = TransformersChat(settings)
    return model, f"transformers: local model {model.path}"
