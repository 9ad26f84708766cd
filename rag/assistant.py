"""Builds the answering stack once per process from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from rag.answer import Answerer
from rag.embedder import Embedder
from rag.errors import EmptyIndexError
from rag.llm import ChatModel, load_llm
from rag.refusal import RefusalModel
from rag.retrieve import Retriever
from rag.settings import Settings
from rag.store import DataDir


@dataclass
class Assistant:
    answerer: Answerer
    retriever: Retriever
    llm_description: str

    @classmethod
    def open(cls, settings: Settings, *, data_dir: DataDir | None = None,
             embedder: Embedder | None = None) -> Assistant:
        data_dir = data_dir or DataDir(settings)
        _require_chunks(settings, data_dir)
        embedder = embedder or Embedder.load(settings)
        llm, description = load_llm(settings)
        return cls._over(settings, data_dir, embedder, llm, description)

    def reopen(self, settings: Settings, data_dir: DataDir) -> Assistant:
        """A new Assistant over the index as it is now (after a re-index), with this one's
        embedding model and LLM: loading an in-process model again would hold it twice in
        memory while the old Assistant finishes its answers."""
        _require_chunks(settings, data_dir)
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

    def close(self) -> None:
        self.retriever.close()


def _require_chunks(settings: Settings, data_dir: DataDir) -> None:
    index = data_dir.open_current()
    empty = index.chunk_count() == 0
    index.close()
    if empty:
        raise EmptyIndexError(
            f"The index in {settings.data_dir} is empty: run `kora ingest` to index documents."
        )
