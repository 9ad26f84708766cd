"""The embedding model: ``Embedder`` (``embed_passages`` / ``embed_query``), loaded once."""

from rag.providers.embedding.embedder import Embedder

__all__ = [
    "Embedder",
]
