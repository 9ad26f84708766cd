"""The JSON result file of the ingest and query benchmarks: the same head (which benchmark,
when, on what machine) and the same way of writing it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.machine import machine_info


def result_head(benchmark: str) -> dict[str, Any]:
    return {
        "benchmark": benchmark,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
    }


def chosen_settings(settings: Any, *names: str) -> dict[str, Any]:
    """The settings a result depends on, by name."""
    return {name: getattr(settings, name) for name in names}


def write_result_file(out: Path, result: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten: {out}")
