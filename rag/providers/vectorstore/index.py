"""One generation of the index, opened: its chunks (queried, fetched and read in pages),
its docstore, file hashes and journal. Chroma's collection stays behind these methods."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from llama_index.core.storage.docstore.keyval_docstore import KVDocumentStore
from llama_index.core.storage.kvstore.types import BaseKVStore
from llama_index.core.vector_stores.types import BasePydanticVectorStore

from rag.jsontypes import JSONObject
from rag.providers.vectorstore.docstore import open_docstore
from rag.providers.vectorstore.generation import Generation

if TYPE_CHECKING:
    from rag.providers.vectorstore.data_dir import DataDir

FILE_STATE_COLLECTION = "kora/files"
PENDING_COLLECTION = "kora/pending"
# replaced document -> {"by": the document that replaces it}; kept with the generation,
# so every worker that opens it excludes the same documents
REPLACED_COLLECTION = "kora/replaced"
# chunks read at once in a full read: embedded Chroma turns a get into one SQL statement,
# and SQLite allows 32,766 variables
READ_PAGE = 10_000


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as the index holds it: its id, its text and the metadata written with it."""

    chunk_id: str
    text: str
    metadata: JSONObject


@dataclass(frozen=True)
class NearestChunk:
    """A chunk found near a query embedding."""

    chunk: StoredChunk
    distance: float  # cosine distance: 0 for the query's own direction


class ChunkPage(NamedTuple):
    """One page of every chunk, column by column (what a full read such as the keyword
    index build consumes); a named tuple, so a caller may unpack the three columns."""

    ids: list[str]
    texts: list[str]  # empty strings when the texts were not asked for
    metadatas: list[JSONObject]


class Index:
    """One generation of the index, opened for reading or writing."""

    def __init__(self, data_dir: DataDir, generation: Generation, collection: Any) -> None:
        self.data_dir = data_dir
        self.generation = generation
        self._collection = collection
        self._kvstore: BaseKVStore | None = None
        self._kv_lock = threading.Lock()

    @property
    def kvstore(self) -> BaseKVStore:
        """The generation's docstore, file hashes and journal (opened on first use)."""
        with self._kv_lock:
            if self._kvstore is None:
                self._kvstore = self.data_dir.catalog.open_kv(self.generation.name)
            return self._kvstore

    def _guarded(self) -> contextlib.AbstractContextManager[None]:
        return self.data_dir.guarded()

    def file_states(self) -> dict[str, JSONObject]:
        """doc_id -> {"sha256", "path", "indexed_at"} for every indexed file."""
        return self.kvstore.get_all(FILE_STATE_COLLECTION)

    def set_file_state(self, doc_id: str, state: JSONObject) -> None:
        self.kvstore.put(doc_id, state, collection=FILE_STATE_COLLECTION)

    def delete_file_state(self, doc_id: str) -> None:
        self.kvstore.delete(doc_id, collection=FILE_STATE_COLLECTION)

    def replaced(self) -> dict[str, str]:
        """Replaced document -> the document that replaces it. A replaced document stays
        in the index (and in the document list) but answers no question."""
        return {doc_id: str(value.get("by", ""))
                for doc_id, value in self.kvstore.get_all(REPLACED_COLLECTION).items()}

    def set_replaced(self, replaced: dict[str, str]) -> None:
        """Record exactly ``replaced`` (old -> new) as the generation's replacements."""
        current = self.replaced()
        for doc_id in set(current) - set(replaced):
            self.kvstore.delete(doc_id, collection=REPLACED_COLLECTION)
        changed = [(doc_id, {"by": by}) for doc_id, by in replaced.items()
                   if current.get(doc_id) != by]
        if changed:
            self.kvstore.put_all(changed, collection=REPLACED_COLLECTION)

    def pending(self) -> list[str]:
        """Documents of a batch that was started but never recorded (a killed ingest)."""
        return sorted(self.kvstore.get_all(PENDING_COLLECTION))

    def mark_pending(self, doc_ids: list[str]) -> None:
        self.kvstore.put_all([(doc_id, {}) for doc_id in doc_ids], collection=PENDING_COLLECTION)

    def clear_pending(self, doc_ids: list[str]) -> None:
        for doc_id in doc_ids:
            self.kvstore.delete(doc_id, collection=PENDING_COLLECTION)

    # --- writing through llama-index ----------------------------------------------------

    @staticmethod
    def import_writer() -> None:
        """Import llama-index's Chroma adapter now: it imports lazily and takes a while the
        first time, which belongs to start-up rather than to the first ingest."""
        import llama_index.vector_stores.chroma  # noqa: F401

    def vector_store(self) -> BasePydanticVectorStore:
        """The generation's chunks as a llama-index vector store (for the ingest pipeline)."""
        from llama_index.vector_stores.chroma import ChromaVectorStore

        return ChromaVectorStore(chroma_collection=self._collection)

    def docstore(self) -> KVDocumentStore:
        """The generation's llama-index docstore (what the UPSERTS strategy compares)."""
        return open_docstore(self.kvstore)

    def delete_document(self, doc_id: str) -> None:
        """Remove a document: its chunks, its docstore entries and its file hash."""
        self.vector_store().delete(doc_id)
        docstore = self.docstore()
        docstore.delete_ref_doc(doc_id, raise_error=False)
        docstore.delete_document(doc_id, raise_error=False)
        self.delete_file_state(doc_id)

    def add(self, chunks: Sequence[StoredChunk], *, embeddings: Sequence[list[float]]) -> None:
        """Write chunks that come with their own embeddings, as they are. The ingest writes
        through ``vector_store``; this is for chunks made elsewhere (a benchmark's)."""
        with self._guarded():
            self._collection.add(ids=[chunk.chunk_id for chunk in chunks],
                                 documents=[chunk.text for chunk in chunks],
                                 metadatas=[chunk.metadata for chunk in chunks],
                                 embeddings=list(embeddings))

    # --- reading the chunks -------------------------------------------------------------

    def chunk_count(self) -> int:
        with self._guarded():
            return int(self._collection.count())

    def nearest(self, embedding: list[float], *, limit: int,
                where: JSONObject | None) -> list[NearestChunk]:
        """The ``limit`` chunks nearest to ``embedding``, nearest first."""
        with self._guarded():
            result = self._collection.query(
                query_embeddings=[embedding], n_results=limit, where=where,
                include=["documents", "metadatas", "distances"],
            )
        return [NearestChunk(StoredChunk(chunk_id, text, metadata), float(distance))
                for chunk_id, text, metadata, distance in zip(
                    result["ids"][0], result["documents"][0], result["metadatas"][0],
                    result["distances"][0], strict=True)]

    def chunks(self, ids: Sequence[str]) -> dict[str, StoredChunk]:
        """chunk id -> chunk, for those of ``ids`` that exist."""
        with self._guarded():
            data = self._collection.get(ids=list(ids), include=["documents", "metadatas"])
        return {chunk_id: StoredChunk(chunk_id, text, metadata) for chunk_id, text, metadata
                in zip(data["ids"], data["documents"], data["metadatas"], strict=True)}

    def chunk_pages(self, page_size: int | None = None, *,
                    texts: bool = True) -> Iterator[ChunkPage]:
        """Every chunk, in pages of ``page_size`` (``READ_PAGE`` unless given)."""
        page_size = page_size or READ_PAGE
        include = ["documents", "metadatas"] if texts else ["metadatas"]
        offset = 0
        while True:
            with self._guarded():
                page = self._collection.get(include=include, limit=page_size, offset=offset)
            documents = page["documents"] if texts else [""] * len(page["ids"])
            yield ChunkPage(page["ids"], documents, page["metadatas"])
            if len(page["ids"]) < page_size:
                return
            offset += page_size

    def close(self) -> None:
        with self._kv_lock:
            kvstore, self._kvstore = self._kvstore, None
        close = getattr(kvstore, "close", None)
        if close is not None:
            close()
