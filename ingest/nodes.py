"""Documents and chunks as llama-index's ingestion pipeline sees them: a parsed file as a
``Document`` (its sections travel along), and the German chunker as a transformation
that turns it into sentence-aligned ``TextNode``s with KORA's metadata."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from ingest.chunking import chunk_document, embedding_header
from ingest.readers import ParsedDocument
from rag.providers.embedding import Embedder
from rag.retrieval import date_sort_key
from rag.settings import Settings

if TYPE_CHECKING:
    from llama_index.core import Document
    from llama_index.core.schema import BaseNode, TextNode, TransformComponent


def to_llama_document(doc_id: str, file_path: str, parsed: ParsedDocument,
                      sha256: str) -> Document:
    from llama_index.core import Document

    return Document(
        id_=doc_id,
        text=parsed.text,
        metadata={
            "title": parsed.title,
            "date": parsed.date,
            "type": parsed.type,
            "source": parsed.source,
            "tags": ", ".join(parsed.tags),
            "file_path": file_path,
            "content_sha256": sha256,
            # sections travel with the document so the chunker needs no second parse
            "sections": [[s.start, s.end, s.location] for s in parsed.sections],
        },
        excluded_embed_metadata_keys=["sections"],
        excluded_llm_metadata_keys=["sections"],
    )


class GermanChunker:
    """llama-index transformation: documents -> sentence-aligned chunk nodes."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self._count_tokens = embedder.count_tokens
        self._max_tokens = min(settings.chunk_tokens, embedder.max_tokens)
        self._overlap = settings.chunk_overlap_tokens

    def as_transform(self) -> TransformComponent:
        from llama_index.core.schema import TransformComponent

        chunker = self

        class _Transform(TransformComponent):
            def __call__(self, nodes: Sequence[BaseNode], **kwargs: object) -> list[BaseNode]:
                # the pipeline hands this transformation the documents it was given
                return [node for document in nodes
                        for node in chunker.nodes_for(cast("Document", document))]

        return _Transform()

    def nodes_for(self, document: Document) -> list[TextNode]:
        from llama_index.core.schema import NodeRelationship, TextNode

        from ingest.readers import Section

        meta = dict(document.metadata)
        sections = [Section(int(s), int(e), str(loc)) for s, e, loc in meta.pop("sections")]
        parsed = ParsedDocument(
            text=document.text, title=meta["title"], date=meta["date"], type=meta["type"],
            source=meta["source"], sections=sections,
        )
        chunks = chunk_document(
            parsed, count_tokens=self._count_tokens, max_tokens=self._max_tokens,
            overlap_tokens=self._overlap,
        )
        nodes = []
        for number, chunk in enumerate(chunks):
            node = TextNode(
                id_=f"{document.id_}#{number}",
                text=chunk.text,
                start_char_idx=chunk.start,
                end_char_idx=chunk.end,
                metadata={
                    **meta,
                    "doc_id": document.id_,
                    "location": chunk.location,
                    "chunk": number,
                    "date_sort": date_sort_key(meta["date"]),
                    "start_char": chunk.start,
                    "end_char": chunk.end,
                    "header": embedding_header(parsed.title, chunk.location),
                },
                # the embedded text is "<title – section>\n<chunk>"; nothing else
                metadata_template="{value}",
                text_template="{metadata_str}\n{content}",
            )
            node.excluded_embed_metadata_keys = [k for k in node.metadata if k != "header"]
            node.excluded_llm_metadata_keys = list(node.metadata)
            node.relationships[NodeRelationship.SOURCE] = document.as_related_node_info()
            nodes.append(node)
        return nodes
