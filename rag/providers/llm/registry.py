"""Which answer generator the settings lead to. One registry maps every backend kind
(``rag.choices.LLMBackend``) to how the settings' choice is described without loading
anything and how its adapter is opened; ``auto`` picks one of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.errors import LLMUnavailableError
from rag.jsontypes import JSONObject
from rag.providers.llm.base import ChatModel
from rag.providers.llm.gguf_file import GGUFInfo, check_memory, find_gguf, read_gguf
from rag.providers.llm.llamacpp import LlamaCppChat, context_for, default_threads
from rag.providers.llm.ollama import OllamaChat, ollama_answers_quickly
from rag.providers.llm.openai_compat import OpenAICompatibleChat
from rag.providers.llm.transformers_local import TransformersChat

if TYPE_CHECKING:
    from rag.choices import LLMBackend
    from rag.settings import Settings


@dataclass(frozen=True)
class LLMChoice:
    """Which answer generator the settings lead to, decided without loading a model:
    what ``kora status``, the console and the web app report."""

    backend: LLMBackend
    model: str | None
    context_window: int | None
    description: str  # one line for the console
    gguf: GGUFInfo | None = None
    # how the choice was reached, without what it chose ("auto: no Ollama answered ..."):
    # the start of the line that says why it fell back to extractive answers
    label: str = ""

    def as_dict(self) -> JSONObject:
        """What the reports show (the GGUF header stays out)."""
        return {name: getattr(self, name)
                for name in ("backend", "model", "context_window", "description")}


@dataclass(frozen=True)
class Backend:
    """One kind of answer generator. ``choose`` reads the settings (the GGUF file's header
    at most); ``open`` builds the adapter for a choice and says in one line what it is
    (None: extractive answers)."""

    choose: Callable[[Settings], LLMChoice]
    open: Callable[[Settings, LLMChoice], tuple[ChatModel | None, str]]


def choose_llm(settings: Settings) -> LLMChoice:
    """The backend ``settings.llm`` asks for. Only ``auto`` contacts anything: a short probe
    of Ollama, then the header of the configured GGUF file."""
    if settings.llm == "auto":
        return _choose_automatically(settings)
    return BACKENDS[settings.llm].choose(settings)


def load_llm(settings: Settings) -> tuple[ChatModel | None, str]:
    """The answer generator ``settings.llm`` asks for (None: extractive answers) and one
    line that says what was chosen. Remote backends reach their server on the first
    ``stream`` call; llama.cpp loads its model here."""
    choice = choose_llm(settings)
    return BACKENDS[choice.backend].open(settings, choice)


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
        choice = _llamacpp_choice(settings, info, f"{no_ollama}; llama.cpp in-process",
                                   label=no_ollama)
        check_memory(info, context=choice.context_window or window, parallel=settings.llm_parallel)
    except LLMUnavailableError as exc:
        return LLMChoice(
            "none",
            None,
            None,
            f"{no_ollama}; extractive answers, the GGUF model is not used: {exc}",
        )
    return choice


def _llamacpp_choice(settings: Settings, info: GGUFInfo, lead: str, *,
                     label: str | None = None) -> LLMChoice:
    context = context_for(settings, info)
    threads = settings.llm_threads or default_threads()
    return LLMChoice(
        "llamacpp",
        info.name,
        context,
        f"{lead}: {info.name} ({info.path}), context {context} tokens, {threads} "
        f"thread{'s' if threads > 1 else ''}, up to {settings.llm_parallel} answers at once",
        gguf=info,
        label=label or lead,
    )


def _open_llamacpp(settings: Settings, choice: LLMChoice) -> tuple[ChatModel | None, str]:
    try:
        return LlamaCppChat(settings, info=choice.gguf), choice.description
    except LLMUnavailableError as exc:
        if settings.llm != "auto":
            raise
        return None, f"{choice.label}; extractive answers, the GGUF model is not used: {exc}"


def _server_choice(backend: LLMBackend,
                   url: Callable[[Settings], str]) -> Callable[[Settings], LLMChoice]:
    """The choice of a model on a server (Ollama, OpenAI-compatible) at ``url(settings)``."""

    def choose(settings: Settings) -> LLMChoice:
        window = settings.llm_context_window
        return LLMChoice(
            backend,
            settings.llm_model,
            window,
            f"{backend}: {settings.llm_model} at {url(settings).rstrip('/')}, "
            f"context {window} tokens",
        )

    return choose


def _choose_transformers(settings: Settings) -> LLMChoice:
    path = settings.llm_model_path
    return LLMChoice("transformers", path.name if path else None,
                     settings.llm_context_window, f"transformers: local model {path}")


def _open_transformers(settings: Settings, choice: LLMChoice) -> tuple[ChatModel | None, str]:
    model = TransformersChat(settings)
    return model, f"{choice.description}, context {model.context_window} tokens"


BACKENDS: dict[LLMBackend, Backend] = {
    "none": Backend(
        choose=lambda settings: LLMChoice("none", None, None, "none: extractive answers"),
        open=lambda settings, choice: (None, choice.description),
    ),
    "ollama": Backend(
        choose=_server_choice("ollama", lambda settings: settings.ollama_url),
        open=lambda settings, choice: (OllamaChat(settings), choice.description),
    ),
    "openai": Backend(
        choose=_server_choice("openai", lambda settings: settings.openai_base_url),
        open=lambda settings, choice: (OpenAICompatibleChat(settings), choice.description),
    ),
    "transformers": Backend(choose=_choose_transformers, open=_open_transformers),
    "llamacpp": Backend(
        choose=lambda settings: _llamacpp_choice(
            settings, read_gguf(find_gguf(settings.llm_model_path)), "llamacpp"),
        open=_open_llamacpp,
    ),
}
