"""One way to wire KORA: settings → data directory → embedding model → retriever or
assistant, opened on demand and closed together.

    with open_kora(settings) as kora:
        results = kora.retriever.search(question)

The data directory is opened at once (an unreachable Chroma server fails there, before a
model loads); the embedding model, the retriever and the assistant only when first asked
for, so a command pays for what it uses. An ingestor is built over the same parts by
``ingest.Ingestor.over(kora)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from functools import cached_property

from rag.answering.assistant import Assistant
from rag.providers.embedding import Embedder
from rag.providers.vectorstore import DataDir
from rag.retrieval import Retriever
from rag.settings import Settings


@dataclass(frozen=True)
class Kora:
    """The opened parts of one KORA installation; lazily loaded ones are cached."""

    settings: Settings
    data_dir: DataDir
    given_embedder: Embedder | None = None
    _closing: ExitStack = field(default_factory=ExitStack, repr=False, compare=False)

    @cached_property
    def embedder(self) -> Embedder:
        return self.given_embedder or Embedder.load(self.settings)

    @cached_property
    def retriever(self) -> Retriever:
        """A retriever over the current index (which must hold chunks)."""
        self.data_dir.require_chunks()
        return self._closing.enter_context(
            closing(Retriever.open(self.settings, self.data_dir, self.embedder)))

    @cached_property
    def assistant(self) -> Assistant:
        """Retrieval and answering with the configured LLM (which loads here)."""
        return self._closing.enter_context(
            Assistant.open(self.settings, data_dir=self.data_dir, embedder=self.embedder))

    def close(self) -> None:
        self._closing.close()


@contextmanager
def open_kora(settings: Settings, *, embedder: Embedder | None = None,
              serving: bool = False) -> Iterator[Kora]:
    """KORA over ``settings``' data directory; ``embedder`` reuses a loaded model (an
    evaluation that opens several data directories loads it once)."""
    kora = Kora(settings, DataDir(settings, serving=serving), embedder)
    try:
        yield kora
    finally:
        kora.close()
