"""Where the query time goes: every stage of the real search and answer path timed
through thin wrappers, and a cProfile of both."""

from __future__ import annotations

import cProfile
import io
import pstats
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from benchmarks._start import REPO


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
    """Accumulates time per stage of the real code path, through thin wrappers."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started
                self.calls[label] += 1

        return wrapper

    def per_call_ms(self, queries: int) -> dict[str, float]:
        return {label: round(1000 * seconds / queries, 3)
                for label, seconds in self.seconds.items()}


def stage_breakdown(retriever: Any, answerer: Any, queries: list[str]) -> dict[str, Any]:
    """Time each stage of ``search`` and ``ask`` over ``queries`` (patched, then restored)."""
    # the modules themselves, not their packages' surfaces: the functions they call by
    # their module-global names (fuse, measure_evidence, ...) are timed by replacing them there
    import rag
    import rag.answering.answerer
    import rag.retrieval.retriever as retriever_module

    patched: list[tuple[Any, str, Any, bool]] = []

    def patch(owner: Any, name: str, replacement: Any) -> None:
        # an instance attribute or module global is put back; a method shadowed on the
        # instance is uncovered again by deleting the shadow
        own = isinstance(owner, type(rag)) or name in vars(owner)
        patched.append((owner, name, getattr(owner, name), own))
        setattr(owner, name, replacement)

    results: dict[str, Any] = {}
    search_clock = Stages()
    try:
        patch(retriever.embedder, "embed_query",
              search_clock.wrap("embed query", retriever.embedder.embed_query))
        for method, label in (("nearest", "chroma query (dense)"),
                              ("chunks", "chroma get by ids (bm25)"),
                              ("chunk_count", "chroma count")):
            patch(retriever.index, method,
                  search_clock.wrap(label, getattr(retriever.index, method)))
        patch(retriever.keyword, "search",
              search_clock.wrap("bm25 KeywordIndex.search", retriever.keyword.search))
        patch(retriever_module, "fuse", search_clock.wrap("fusion", retriever_module.fuse))
        patch(retriever_module, "collapse_near_duplicates",
              search_clock.wrap("near-duplicate collapse",
                                retriever_module.collapse_near_duplicates))
        forget = retriever.embedder.forget
        total = timed_each(retriever.search, queries, forget)
        stages = search_clock.per_call_ms(len(queries))
        stages["rest (passages, sorting, Scored)"] = round(
            1000 * total / len(queries) - sum(stages.values()), 3)
        results["search"] = {"total_ms": round(1000 * total / len(queries), 3), "stages": stages}

        ask_clock = Stages()
        patch(retriever, "search", ask_clock.wrap("search", retriever.search))
        patch(answerer.ranker, "rank",
              ask_clock.wrap("sentence ranking (incl. embeddings)", answerer.ranker.rank))
        patch(rag.answering.answerer, "measure_evidence",
              ask_clock.wrap("evidence", rag.answering.answerer.measure_evidence))
        patch(answerer.refusal, "decide",
              ask_clock.wrap("refusal model", answerer.refusal.decide))
        patch(answerer, "_extractive_answer",
              ask_clock.wrap("extractive selection", answerer._extractive_answer))
        patch(answerer, "_refusal", ask_clock.wrap("refusal answer", answerer._refusal))
        total = timed_each(answerer.ask, queries, forget)
        stages = ask_clock.per_call_ms(len(queries))
        stages["rest (standalone question, Answer)"] = round(
            1000 * total / len(queries) - sum(stages.values()), 3)
        results["ask"] = {"total_ms": round(1000 * total / len(queries), 3), "stages": stages,
                          "extractive_calls": ask_clock.calls.get("extractive selection", 0),
                          "refusal_calls": ask_clock.calls.get("refusal answer", 0)}
    finally:
        for owner, name, original, own in reversed(patched):
            if own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)
    return results


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
