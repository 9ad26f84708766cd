"""Where the query time goes: every stage of the real search and answer path timed
through their stage hooks (``rag.stages``), and a cProfile of both."""

from __future__ import annotations

import cProfile
import io
import pstats
import time
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from benchmarks._start import REPO

if TYPE_CHECKING:
    from rag.answering import Answerer
    from rag.retrieval import Retriever


def timed_each(call: Callable[[str], Any], queries: list[str],
               forget: Callable[[], None]) -> float:
    """Total seconds of ``call(query)`` over ``queries``; ``forget`` (untimed) before each
    call drops cached vectors, so that every question is a fresh one."""
    total = 0.0
    for query in queries:
        forget()
        started = time.perf_counter()
        call(query)
        total += time.perf_counter() - started
    return total


class Stages:
    """Accumulates time per stage, as the retriever's and answerer's ``stage_hook``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def __call__(self, label: str, seconds: float) -> None:
        self.seconds[label] += seconds
        self.calls[label] += 1

    def per_call_ms(self, queries: int) -> dict[str, float]:
        return {label: round(1000 * seconds / queries, 3)
                for label, seconds in self.seconds.items()}


def _timed_stages(timed: Retriever | Answerer, call: Callable[[str], Any],
                  queries: list[str], forget: Callable[[], None],
                  rest: str) -> tuple[dict[str, Any], Stages]:
    """Run ``call`` over ``queries`` with a clock as ``timed``'s stage hook (taken away
    again after); the time no stage accounts for is reported as ``rest``."""
    clock = Stages()
    timed.stage_hook = clock
    try:
        total = timed_each(call, queries, forget)
    finally:
        timed.stage_hook = None
    stages = clock.per_call_ms(len(queries))
    stages[rest] = round(1000 * total / len(queries) - sum(stages.values()), 3)
    return {"total_ms": round(1000 * total / len(queries), 3), "stages": stages}, clock


def stage_breakdown(retriever: Retriever, answerer: Answerer,
                    queries: list[str]) -> dict[str, Any]:
    """Time each stage of ``search`` and ``ask`` over ``queries``, through their stage
    hooks."""
    forget = retriever.embedder.forget
    search, _ = _timed_stages(retriever, retriever.search, queries, forget,
                              "rest (passages, sorting, Scored)")
    ask, ask_clock = _timed_stages(answerer, answerer.ask, queries, forget,
                                   "rest (standalone question, Answer)")
    ask["extractive_calls"] = ask_clock.calls.get("extractive selection", 0)
    ask["refusal_calls"] = ask_clock.calls.get("refusal answer", 0)
    return {"search": search, "ask": ask}


# frames inside the model's forward pass all carry the embedding's time: one line
# (rag/providers/embedding/embedder.py embed_query) stands for them in the cumulative list
_MODEL_INTERNALS = ("torch/", "transformers/", "sentence_transformers/", "tokenizers/")


def profile(call: Callable[[str], Any], queries: list[str], *, top: int) -> dict[str, Any]:
    """cProfile over ``queries``: the top entries by cumulative time (model internals
    folded into ``embed_query``) and by own time, in ms per query."""
    profiler = cProfile.Profile()
    profiler.enable()
    for query in queries:
        call(query)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    entries = []
    for (filename, line, name), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        short = _short(filename)
        entries.append({
            "function": f"{short}:{line}({name})",
            "calls_per_query": round(calls / len(queries), 1),
            "cumulative_ms_per_query": round(1000 * cumulative / len(queries), 3),
            "own_ms_per_query": round(1000 * own / len(queries), 3),
            "model_internal": short.startswith(_MODEL_INTERNALS),
            "harness": short.startswith("benchmarks/"),
        })
    cumulative = sorted((e for e in entries if not e["model_internal"] and not e["harness"]),
                        key=lambda e: -e["cumulative_ms_per_query"])
    own = sorted(entries, key=lambda e: -e["own_ms_per_query"])
    strip = ("model_internal", "harness")
    return {
        "by_cumulative": [{k: v for k, v in e.items() if k not in strip}
                          for e in cumulative[:top]],
        "by_own_time": [{k: v for k, v in e.items() if k not in strip}
                        for e in own[: max(5, top // 2)]],
    }


def _short(filename: str) -> str:
    for marker in ("site-packages/", str(REPO) + "/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename
