"""Builds the answering stack once per process from the settings.

The stack may answer several questions at once from different threads: the retriever
and answerer keep no per-question state, the embedder serialises its torch calls and
locks its caches, the keyword analyzer gives every thread its own stemmer, and SQLite
and Chroma clients are shared safely. LLM generation is bounded apart (``LLMSlots``),
because a local model or server serves only a few answers at a time well.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rag.answering.answerer import Answerer
from rag.answering.refusal import RefusalModel
from rag.providers.embedding import Embedder
from rag.providers.llm import ChatModel, Message, load_llm
from rag.providers.vectorstore import DataDir, Generation
from rag.retrieval import Retriever
from rag.settings import Settings


class LLMSlots:
    """At most ``limit`` answers generated at once by this process; the rest wait."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)

    def bound(self, model: ChatModel) -> ChatModel:
        return _BoundedChatModel(model, self._slots)


class _BoundedChatModel:
    """A ChatModel that holds one slot for as long as it streams an answer."""

    def __init__(self, model: ChatModel, slots: threading.BoundedSemaphore) -> None:
        self._model = model
        self._slots = slots
        self.name = model.name
        self.context_window = model.context_window

    def count_tokens(self, text: str) -> int:
        return self._model.count_tokens(text)

    def stream(self, messages: list[Message]) -> Iterator[str]:
        with self._slots:
            yield from self._model.stream(messages)

    def __getattr__(self, name: str) -> Any:
        # whatever else a backend offers (the Answerer may use more in future)
        return getattr(self._model, name)


@dataclass
class Assistant:
    answerer: Answerer
    retriever: Retriever
    llm_description: str

    @classmethod
    def open(cls, settings: Settings, *, data_dir: DataDir | None = None,
             embedder: Embedder | None = None) -> Assistant:
        data_dir = data_dir or DataDir(settings)
        data_dir.require_chunks()
        embedder = embedder or Embedder.load(settings)
        llm, description = load_llm(settings)
        return cls._over(settings, data_dir, embedder, llm, description)

    def reopen(self, settings: Settings, data_dir: DataDir) -> Assistant:
        """A new Assistant over the index as it is now (after a re-index), with this one's
        embedding model and LLM: loading an in-process model again would hold it twice in
        memory while the old Assistant finishes its answers."""
        data_dir.require_chunks()
        return self._over(settings, data_dir, self.retriever.embedder, self.answerer.llm,
                          self.llm_description)

    @classmethod
    def _over(cls, settings: Settings, data_dir: DataDir, embedder: Embedder,
              llm: ChatModel | None, description: str) -> Assistant:
        retriever = Retriever.open(settings, data_dir, embedder)
        answerer = Answerer(
            retriever=retriever,
            refusal=RefusalModel.load(),
            llm=llm,
            llm_required=settings.llm not in ("auto", "none"),
            max_answer_tokens=settings.llm_max_tokens,
        )
        return cls(answerer, retriever, description)

    @property
    def generation(self) -> Generation:
        """The index generation and version this assistant answers from."""
        return self.retriever.index.generation

    def limit_llm(self, slots: LLMSlots) -> None:
        """Share the process's LLM slots (the web app answers several questions at once)."""
        if self.answerer.llm is not None and not isinstance(self.answerer.llm,
                                                            _BoundedChatModel):
            self.answerer.llm = slots.bound(self.answerer.llm)

    def close(self) -> None:
        self.retriever.close()

    def __enter__(self) -> Assistant:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

