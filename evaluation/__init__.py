"""Evaluation above ``ingest`` and ``rag``: the golden set, BEIR folders, metrics, the
report and the refusal calibration. It builds indexes from files, so it may import both."""

from evaluation.beir import BeirResult, evaluate_beir
from evaluation.charts import LINE_COLOURS, Panel, line_charts_png
from evaluation.golden import (
    GOLDEN_FILE,
    CaseResult,
    EvalResult,
    GoldenSet,
    case_results,
    retrieval_row,
    run_golden,
    run_golden_on_index,
    run_llm_eval,
)
from evaluation.history import (
    HEADLINE_METRICS,
    HISTORY_FILE,
    append_history,
    headline,
    kora_version,
    read_history,
)
from evaluation.metrics import retrieval_metrics, unique_in_order
from evaluation.report import write_report

__all__ = [
    "GOLDEN_FILE",
    "HEADLINE_METRICS",
    "HISTORY_FILE",
    "LINE_COLOURS",
    "BeirResult",
    "CaseResult",
    "EvalResult",
    "GoldenSet",
    "Panel",
    "append_history",
    "case_results",
    "evaluate_beir",
    "headline",
    "kora_version",
    "line_charts_png",
    "read_history",
    "retrieval_metrics",
    "retrieval_row",
    "run_golden",
    "run_golden_on_index",
    "run_llm_eval",
    "unique_in_order",
    "write_report",
]
