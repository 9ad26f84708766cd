"""The keyword index: BM25 over German stems and compound parts, derived from the store."""

from rag.providers.keyword.bm25 import (
    MANIFEST,
    READ_PAGE,
    GermanAnalyzer,
    KeywordIndex,
    Vocabulary,
    keyword_index_current,
    rebuild_keyword_index,
    searchable_text,
)

__all__ = [
    "MANIFEST",
    "READ_PAGE",
    "GermanAnalyzer",
    "KeywordIndex",
    "Vocabulary",
    "keyword_index_current",
    "rebuild_keyword_index",
    "searchable_text",
]
