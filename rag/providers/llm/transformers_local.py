"""Local transformers adapter: llama-index's ``HuggingFaceLLM`` on a model directory.

The directory (``KORA_LLM_MODEL_PATH``) holds config.json, the weights and a tokenizer
whose chat template turns the messages into the model's own prompt format. Everything
loads with ``local_files_only=True``; the model loads once per ``TransformersChat``.

Two things ``HuggingFaceLLM.stream_complete`` does not handle, worked around here:

* It runs ``model.generate`` in a thread that feeds a ``TextIteratorStreamer`` without a
  timeout. When ``generate`` raises (a bad generation argument, out of memory, a broken
  checkpoint) the exception only reaches the thread's excepthook and the reader waits
  for the next piece forever. ``model.generate`` is therefore wrapped: an exception ends
  the streamer and is handed back (through a context variable, which llama-index's
  ``Thread`` copies into the generation thread) to ``stream``, which raises it as
  ``LLMUnavailableError``.
* Generation runs on after the reader stops reading. The wrapper adds a stopping
  criterion that ``stream`` sets when its generator finishes or is closed.

It also tokenizes the templated prompt with ``add_special_tokens=True``; a chat template
that writes the BOS token itself would then start with two, so ``render_prompt`` drops
the template's BOS where the tokenizer adds one anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import LLMUnavailableError
from rag.providers.llm.base import (
    FALLBACK,
    Message,
    import_llama_llm,
    one_line,
    to_llama_messages,
)

if TYPE_CHECKING:
    from llama_index.core.base.llms.types import ChatMessage

    from rag.settings import Settings

PACKAGE = "llama-index-llms-huggingface"
NEEDS = (
    "set KORA_LLM_MODEL_PATH to a directory with config.json, weights and a tokenizer "
    "with a chat template"
)


@dataclass
class _Generation:
    """What one ``stream`` call shares with its generation thread."""

    stop: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


_CURRENT: ContextVar[_Generation | None] = ContextVar("kora_transformers_generation", default=None)


class TransformersChat:
    """``ChatModel`` on a local transformers model directory (CPU)."""

    def __init__(self, settings: Settings) -> None:
        path = _model_directory(settings.llm_model_path)
        huggingface_llm = import_llama_llm(
            "llama_index.llms.huggingface", "HuggingFaceLLM", package=PACKAGE
        )
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        except Exception as exc:  # transformers raises OSError, ValueError, KeyError, …
            raise LLMUnavailableError(
                f"The tokenizer in {path} could not be loaded offline "
                f"({type(exc).__name__}: {one_line(exc, limit=120)}): {NEEDS}."
            ) from exc
        if not getattr(tokenizer, "chat_template", None):
            raise LLMUnavailableError(
                f"The tokenizer in {path} has no chat template, so KORA cannot write the "
                f"model's prompt format: {NEEDS}."
            )
        try:
            model: Any = AutoModelForCausalLM.from_pretrained(
                str(path), local_files_only=True, device_map="cpu"
            )
        except Exception as exc:
            raise LLMUnavailableError(
                f"The model in {path} could not be loaded offline "
                f"({type(exc).__name__}: {one_line(exc, limit=120)}): {NEEDS}."
            ) from exc
        model.generate = _guarded_generate(model.generate)

        self.path = path
        self.name = f"transformers {path.name}"
        self._tokenizer: Any = tokenizer
        self._bos_added = _tokenizer_adds_bos(tokenizer)
        sampling = settings.llm_temperature > 0
        # HuggingFaceLLM lowers a larger window to max_position_embeddings with a logged
        # warning at every load; do it here, quietly.
        context_window = settings.llm_context_window
        model_window = getattr(model.config, "max_position_embeddings", None)
        if isinstance(model_window, int) and 0 < model_window < context_window:
            context_window = model_window
        self._llm: Any = huggingface_llm(
            model=model,
            tokenizer=tokenizer,
            model_name=str(path),
            tokenizer_name=str(path),
            context_window=context_window,
            max_new_tokens=settings.llm_max_tokens,
            device_map="cpu",
            generate_kwargs=(
                {"do_sample": True, "temperature": settings.llm_temperature}
                if sampling
                else {"do_sample": False}
            ),
            # Causal LMs' generate() rejects token_type_ids, which some tokenizers return.
            tokenizer_outputs_to_remove=["token_type_ids"],
            messages_to_prompt=self._messages_to_prompt,
            is_chat_model=True,
        )
        self.context_window = int(self._llm.context_window)

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def render_prompt(self, messages: list[Message]) -> str:
        """The prompt text the model gets for ``messages`` (its own chat template)."""
        return self._messages_to_prompt(to_llama_messages(messages))

    def _messages_to_prompt(self, messages: Sequence[ChatMessage]) -> str:
        prompt = str(
            self._tokenizer.apply_chat_template(
                [{"role": m.role.value, "content": m.content or ""} for m in messages],
                tokenize=False,
                add_generation_prompt=True,
            )
        )
        bos = self._tokenizer.bos_token
        if self._bos_added and bos and prompt.startswith(bos):
            prompt = prompt[len(bos) :]
        return prompt

    def stream(self, messages: list[Message]) -> Iterator[str]:
        generation = _Generation()
        token = _CURRENT.set(generation)
        try:
            # The generation thread starts inside this call and copies the context.
            responses = self._llm.stream_chat(to_llama_messages(messages))
        finally:
            _CURRENT.reset(token)
        try:
            for response in responses:
                if response.delta:
                    yield response.delta
        finally:
            generation.stop.set()
        if generation.error is not None:
            error = generation.error
            raise LLMUnavailableError(
                f"The local model {self.path.name} failed while writing the answer "
                f"({type(error).__name__}: {one_line(error, limit=160)}): check "
                f"KORA_LLM_MODEL_PATH, {FALLBACK}."
            ) from error


def _model_directory(path: Path | None) -> Path:
    if path is None:
        raise LLMUnavailableError(f"KORA_LLM=transformers needs a model directory: {NEEDS}.")
    path = path.expanduser()
    if not path.is_dir():
        raise LLMUnavailableError(f"The model directory {path} does not exist: {NEEDS}.")
    if not (path / "config.json").is_file():
        raise LLMUnavailableError(f"The model directory {path} has no config.json: {NEEDS}.")
    return path


def _tokenizer_adds_bos(tokenizer: Any) -> bool:
    bos_id = getattr(tokenizer, "bos_token_id", None)
    if bos_id is None:
        return False
    ids = tokenizer("x", add_special_tokens=True)["input_ids"]
    return bool(ids) and ids[0] == bos_id


def _guarded_generate(generate: Callable[..., Any]) -> Callable[..., Any]:
    """``generate`` that stops when its ``stream`` call is over and, when it fails, ends the
    streamer and reports the error instead of leaving the reader waiting forever."""
    from transformers import StoppingCriteria, StoppingCriteriaList

    class StopWhenAsked(StoppingCriteria):
        def __init__(self, stop: threading.Event) -> None:
            self.stop = stop

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            import torch

            return torch.full(
                (input_ids.shape[0],), self.stop.is_set(), dtype=torch.bool, device=input_ids.device
            )

    def run(*args: Any, **kwargs: Any) -> Any:
        generation = _CURRENT.get()
        if generation is not None:
            kwargs["stopping_criteria"] = StoppingCriteriaList(
                [*(kwargs.get("stopping_criteria") or []), StopWhenAsked(generation.stop)]
            )
        try:
            return generate(*args, **kwargs)
        except Exception as exc:
            streamer = kwargs.get("streamer")
            if streamer is not None:
                streamer.end()  # the reader stops waiting
            if generation is None or streamer is None:
                raise
            generation.error = exc
            return None

    return run
