"""KORA's core: settings, providers (embedder, vector store, keyword index), retrieval."""
