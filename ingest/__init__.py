"""Readers, German-aware chunking and the incremental ingestion pipeline.

The pipeline's names are loaded on first use: importing it pulls in llama-index, the
vector store and the keyword index (seconds), which a caller that only reads files
(``ingest.readers``, the admin upload check) must not pay for."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ingest.readers import ParsedDocument, Section
from ingest.versions import declare_replacement

if TYPE_CHECKING:
    from ingest.pipeline import (
        Ingestor,
        IngestReport,
        ProgressCallback,
        needs_confirmation,
        plan_ingest,
        removal_check,
    )

_FROM_PIPELINE = frozenset({"Ingestor", "IngestReport", "ProgressCallback",
                            "needs_confirmation", "plan_ingest", "removal_check"})

__all__ = [
    "IngestReport",
    "Ingestor",
    "ParsedDocument",
    "ProgressCallback",
    "Section",
    "declare_replacement",
    "needs_confirmation",
    "plan_ingest",
    "removal_check",
]


def __getattr__(name: str) -> Any:
    if name in _FROM_PIPELINE:
        return getattr(importlib.import_module("ingest.pipeline"), name)
    raise AttributeError(f"module 'ingest' has no attribute {name!r}")
