"""Readers, German-aware chunking and the incremental ingestion pipeline."""
