"""The services KORA talks to, each behind a small contract: the embedding model, the
vector store (Chroma), the keyword index (BM25) and the LLM backends."""
