"""German text handling shared by indexing and answering: sentence spans, compound parts."""

from rag.text.compounds import CompoundSplitter
from rag.text.sentences import sentence_spans

__all__ = [
    "CompoundSplitter",
    "sentence_spans",
]
