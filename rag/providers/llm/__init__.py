"""LLM backends: one adapter module per kind of server, chosen by ``settings.llm``.

The whole contract is ``ChatModel``: a display name, a context window, a token counter
for packing sources, and ``stream(messages)`` that yields text pieces.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from rag.errors import LLMUnavailableError
from rag.providers.llm.gguf_file import GGUFInfo, check_memory, find_gguf, read_gguf
from rag.providers.llm.llamacpp import LlamaCppChat, context_for, default_threads
from rag.providers.llm.ollama import OllamaChat, ollama_answers_quickly
from rag.providers.llm.openai_compat import OpenAICompatibleChat
from rag.providers.llm.transformers_local import TransformersChat

if TYPE_CHECKING:
    from rag.settings import Settings

__all__ = [
    "ChatModel",
    "LLMChoice",
    "LlamaCppChat",
    "Message",
    "OllamaChat",
    "OpenAICompatibleChat",
    "TransformersChat",
    "choose_llm",
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


@dataclass(frozen=True)
class LLMChoice:
    """Which answer generator the settings lead to, decided without loading a model:
    what ``kora status``, the console and the web app report."""

    backend: Literal["none", "ollama", "openai", "transformers", "llamacpp"]
    model: str | None
    context_window: int | None
    description: str  # one line for the console
    gguf: GGUFInfo | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "model": self.model,
            "context_window": self.context_window,
            "description": self.description,
        }


def choose_llm(settings: Settings) -> LLMChoice:
    """The backend ``settings.llm`` asks for. Only ``auto`` contacts anything: a short probe
    of Ollama, then the header of the configured GGUF file."""
    kind = settings.llm
    if kind == "none":
        return LLMChoice("none", None, None, "none: extractive answers")
    if kind == "auto":
        return _choose_automatically(settings)
    if kind == "llamacpp":
        info = read_gguf(find_gguf(settings.llm_model_path))
        return _llamacpp_choice(settings, info, "llamacpp")
    window = settings.llm_context_window
    if kind == "ollama":
        return LLMChoice(
            "ollama",
            settings.llm_model,
            window,
            f"ollama: {settings.llm_model} at {settings.ollama_url.rstrip('/')}, "
            f"context {window} tokens",
        )
    if kind == "openai":
        return LLMChoice(
            "openai",
            settings.llm_model,
            window,
            f"openai: {settings.llm_model} at "
            f"{settings.openai_base_url.rstrip('/')}, context {window} tokens",
        )
    path = settings.llm_model_path
    return LLMChoice(
        "transformers", path.name if path else None, window, f"transformers: local model {path}"
    )


def _choose_automatically(settings: Settings) -> LLMChoice:
    url = settings.ollama_url.rstrip("/")
    window = settings.llm_context_window
    if ollama_answers_quickly(settings):
        return LLMChoice(
            "ollama",
            settings.llm_model,
            window,
            f"auto: Ollama answered at {url}, using {settings.llm_model}, context {window} tokens",
        )
    no_ollama = f"auto: no Ollama answered at {url} within {settings.llm_auto_probe_seconds:g} s"
    if settings.llm_model_path is None:
        return LLMChoice(
            "none",
            None,
            None,
            f"{no_ollama} and no GGUF model is configured "
            "(KORA_LLM_MODEL_PATH), extractive answers",
        )
    try:
        info = read_gguf(find_gguf(settings.llm_model_path))
        choice = _llamacpp_choice(settings, info, f"{no_ollama}; llama.cpp in-process")
        check_memory(info, context=choice.context_window or window, parallel=settings.llm_parallel)
    except LLMUnavailableError as exc:
        return LLMChoice(
            "none",
            None,
            None,
            f"{no_ollama}; extractive answers, the GGUF model is not used: {exc}",
        )
    return choice


def _llamacpp_choice(settings: Settings, info: GGUFInfo, lead: str) -> LLMChoice:
    context = context_for(settings, info)
    threads = settings.llm_threads or default_threads()
    return LLMChoice(
        "llamacpp",
        info.name,
        context,
        f"{lead}: {info.name} ({info.path}), context {context} tokens, {threads} "
        f"thread{'s' if threads > 1 else ''}, up to {settings.llm_parallel} answers at once",
        gguf=info,
    )


def load_llm(settings: Settings) -> tuple[ChatModel | None, str]:
    """The answer generator ``settings.llm`` asks for (None: extractive answers) and one
    line that says what was chosen. Remote backends reach their server on the first
    ``stream`` call; llama.cpp loads its model here."""
    choice = choose_llm(settings)
    if choice.backend == "none":
        return None, choice.description
    if choice.backend == "ollama":
        return OllamaChat(settings), choice.description
    if choice.backend == "openai":
        return OpenAICompatibleChat(settings), choice.description
    if choice.backend == "transformers":
        model = TransformersChat(settings)
        return model, f"{choice.description}, context {model.context_window} tokens"
    try:
        return LlamaCppChat(settings, info=choice.gguf), choice.description
    except LLMUnavailableError as exc:
        if settings.llm != "auto":
            raise
        lead = choice.description.split(";")[0]
        return None, f"{lead}; extractive answers, the GGUF model is not used: {exc}"
