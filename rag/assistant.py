"""Builds the answering stack once per process from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from rag.answer import Answerer
from rag.embedder import Embedder
from rag.errors import EmptyIndexError
from rag.llm import load_llm
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
        index = data_dir.open_current()
        empty = index.chunk_count() == 0
        index.close()
        if empty:
            raise EmptyIndexError(
                f"The index in {settings.data_dir} is empty: run `kora ingest` to index documents."
            )
        embedder = embedder or Embedder.load(settings)
        retriever = Retriever.open(settings, data_dir, embedder)
        llm, description = load_llm(settings)
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
