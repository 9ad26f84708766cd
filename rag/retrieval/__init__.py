"""Retrieval: dense and keyword search, their fusion, metadata filters, ranked passages."""

from rag.retrieval.filters import Filters, date_sort_key
from rag.retrieval.retriever import Retriever, Scored, fuse

__all__ = [
    "Filters",
    "Retriever",
    "Scored",
    "date_sort_key",
    "fuse",
]
