"""Evaluation above ``ingest`` and ``rag``: the golden set, BEIR folders, metrics, the
report and the refusal calibration. It builds indexes from files, so it may import both."""

from evaluation.beir import evaluate_beir
from evaluation.golden import GOLDEN_FILE, GoldenSet, retrieval_row, run_golden, run_llm_eval
from evaluation.metrics import retrieval_metrics, unique_in_order
from evaluation.report import write_report
from evaluation.tiny_gguf import vocabulary, words_of, write_tiny_gguf

__all__ = [
    "GOLDEN_FILE",
    "GoldenSet",
    "evaluate_beir",
    "retrieval_metrics",
    "retrieval_row",
    "run_golden",
    "run_llm_eval",
    "unique_in_order",
    "vocabulary",
    "words_of",
    "write_report",
    "write_tiny_gguf",
]
