"""Quality over time: each `kora eval` run appends its headline figures, one JSON line per
golden set, to ``eval-history.jsonl`` in the data directory; the admin area draws them.

A file, not a table in people's database: the figures are about the documents and the
software, not about people (nothing to purge, nothing to audit), `kora eval` often runs
where no database is configured (a laptop, a CI job), and a JSON-lines file is easy to
read, diff and keep beside the index it measured. Each run appends whole lines in one
write to a file opened for appending, so concurrent runs do not interleave; a line that
cannot be read (a disk that filled up mid-write) is skipped, not fatal.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from evaluation.golden import EvalResult, GoldenSet, case_results
from rag.jsontypes import JSONObject

HISTORY_FILE = "eval-history.jsonl"
# the figures the history keeps and the admin area draws, in that order
HEADLINE_METRICS = ("key_fact_recall", "hit@3", "refusal_recall", "cases_passed")


def kora_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kora")
    except PackageNotFoundError:
        return "unknown"


def headline(result: EvalResult, golden: GoldenSet, *, name: str) -> JSONObject:
    """One history line: when, which KORA, which set, and its headline figures."""
    cases = case_results(result, golden)
    hybrid = result.retrieval.get("hybrid", {})
    return {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "version": kora_version(),
        "set": name,
        "questions": len(golden.questions),
        "out_of_scope": len(golden.out_of_scope),
        "answer_mode": result.meta.get("answer_mode"),
        "key_fact_recall": result.answers.get("key_fact_recall"),
        "hit@3": hybrid.get("hit@3"),
        "refusal_recall": result.refusal.get("recall") if golden.out_of_scope else None,
        "in_scope_refused": result.refusal.get("in_scope_refused"),
        "cases_passed": round(sum(c["passed"] for c in cases) / len(cases), 4)
        if cases else None,
    }


def append_history(data_dir: Path, lines: list[JSONObject]) -> Path:
    path = data_dir / HISTORY_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n"
                   for line in lines)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    with open(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def read_history(data_dir: Path) -> list[JSONObject]:
    """The runs, oldest first; unreadable lines skipped."""
    path = data_dir / HISTORY_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    runs = []
    for line in text.splitlines():
        try:
            run = json.loads(line)
        except ValueError:
            continue
        if isinstance(run, dict) and "time" in run and "set" in run:
            runs.append(run)
    return runs


__all__ = ["HEADLINE_METRICS", "HISTORY_FILE", "append_history", "headline", "kora_version",
           "read_history"]
