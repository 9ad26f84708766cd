"""Readers, German-aware chunking and the incremental ingestion pipeline."""

from ingest.pipeline import Ingestor, IngestReport, ProgressCallback
from ingest.readers import ParsedDocument, Section

__all__ = [
    "IngestReport",
    "Ingestor",
    "ParsedDocument",
    "ProgressCallback",
    "Section",
]
