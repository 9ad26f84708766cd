"""The vector store: generations of chunks in Chroma, their docstores, the live pointer.
Chroma's own API stays inside this package."""

from rag.providers.vectorstore.docstore import open_docstore
from rag.providers.vectorstore.store import DataDir, Generation, Index

__all__ = [
    "DataDir",
    "Generation",
    "Index",
    "open_docstore",
]
