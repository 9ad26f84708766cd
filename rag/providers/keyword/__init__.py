"""The keyword index: BM25 over German stems and compound parts, derived from the store."""

from rag.providers.keyword.bm25 import (
    MANIFEST,
    GermanAnalyzer,
    KeywordHit,
    KeywordIndex,
    Vocabulary,
    analyzer_name,
    searchable_text,
)

__all__ = [
    "MANIFEST",
    "GermanAnalyzer",
    "KeywordHit",
    "KeywordIndex",
    "Vocabulary",
    "analyzer_name",
    "searchable_text",
]
