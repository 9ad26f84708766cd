"""The files a benchmark run makes: its temporary folder (kept with ``--keep``) and its
JSON result, which starts with the same head (which benchmark, when, on what machine)."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.machine import machine_info


@contextlib.contextmanager
def temporary_folder(prefix: str, *, keep: bool) -> Iterator[Path]:
    """A fresh folder for the run, removed afterwards unless ``keep`` (then named)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield work
    finally:
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


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
