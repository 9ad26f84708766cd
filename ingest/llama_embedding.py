"""Adapter from KORA's ``Embedder`` to llama-index's ``BaseEmbedding``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llama_index.core.embeddings import BaseEmbedding
from pydantic import PrivateAttr

if TYPE_CHECKING:
    from rag.providers.embedding import Embedder


class LlamaEmbedding(BaseEmbedding):
    _embedder: Any = PrivateAttr()

    @classmethod
    def wrapping(cls, embedder: Embedder) -> LlamaEmbedding:
        # One large llama-index batch: sentence-transformers sorts it by length and
        # splits it into model batches itself, which is where the speed comes from.
        instance = cls(model_name=embedder.name, embed_batch_size=2048)
        instance._embedder = embedder
        return instance

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed_query(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed_passages([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed_passages(texts)
