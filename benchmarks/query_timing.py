"""The query benchmark's timed runs: latency per search mode and for the extractive
answer on one index, and the query embedding alone with one and two torch threads."""

from __future__ import annotations

import math
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from benchmarks._start import REPO
from benchmarks.machine import Contention, peak_rss_kib, rss_kib
from benchmarks.query_stages import profile, stage_breakdown

PROFILE_QUERIES = 10


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * share
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "p50_ms": round(percentile(ms, 0.50), 2),
        "p95_ms": round(percentile(ms, 0.95), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        "max_ms": round(max(ms), 2),
    }


def refusal_model(embedder: Any) -> tuple[Any, str]:
    """The calibrated refusal model if there is one, else a fixed stand-in."""
    from rag.answering import CALIBRATION_FILE, LogisticModel, RefusalModel

    if CALIBRATION_FILE.exists():
        return RefusalModel.load(), str(CALIBRATION_FILE.relative_to(REPO))
    stand_in = RefusalModel(
        with_dense=LogisticModel({"coverage": 8.0, "dense": 2.0}, -4.0, 0.5, 0.8),
        without_dense=LogisticModel({"coverage": 8.0}, -4.0, 0.5, 0.8),
        dense_model=embedder.name,
    )
    return stand_in, "fixed stand-in (no rag/answering/refusal.json)"


def embed_thread_check(embedder: Any, queries: list[str]) -> dict[str, Any]:
    """Query embedding latency (p50/p95) with one and with two torch threads: on a 2-core
    box that is busy elsewhere, two intra-op threads can wait on each other; KORA uses
    ``embedding_query_threads``. The target is p95 <= 25 ms."""
    result: dict[str, Any] = {}
    for count in (1, 2):
        for query in queries[:5]:
            embedder.engine.encode([embedder.query_prefix + query], threads=count)
        seconds = []
        for query in queries:
            started = time.perf_counter()
            embedder.engine.encode([embedder.query_prefix + query], threads=count)
            seconds.append(time.perf_counter() - started)
        result[f"threads_{count}"] = summary(seconds)
    return result


def measure_size(
    settings: Any, embedder: Any, refusal: Any, queries: list[tuple[str, bool]], *,
    warmup: int, profile_top: int,
) -> dict[str, Any]:
    from rag.answering import Answerer
    from rag.providers.vectorstore import DataDir
    from rag.retrieval import Retriever

    data_dir = DataDir(settings)
    started = time.perf_counter()
    retriever = Retriever.open(settings, data_dir, embedder)
    open_seconds = time.perf_counter() - started
    started = time.perf_counter()
    answerer = Answerer(retriever=retriever, refusal=refusal, llm=None, llm_required=False,
                        max_answer_tokens=settings.llm_max_tokens)
    answerer_seconds = time.perf_counter() - started
    texts = [q for q, _ in queries]
    for query in texts[:warmup]:
        retriever.search(query)
        retriever.search(query, mode="dense")
        retriever.search(query, mode="bm25")
        answerer.ask(query)

    times: dict[str, list[float]] = defaultdict(list)
    outcomes = {"answered": 0, "refused": 0, "out_of_scope_refused": 0, "in_scope_answered": 0}
    with Contention() as contention:
        clock = time.perf_counter
        steps: list[tuple[str, Callable[[str], Any]]] = [
            ("embed", embedder.embed_query),
            ("hybrid", retriever.search),
            ("dense", lambda q: retriever.search(q, mode="dense")),
            ("bm25", lambda q: retriever.search(q, mode="bm25")),
            ("ask", answerer.ask),
        ]
        for query, in_scope in queries:
            for key, step in steps:
                # each step meets the question fresh: no cached query or sentence vector
                embedder.forget()
                started = clock()
                outcome = step(query)
                times[key].append(clock() - started)
            answer = outcome
            refused = answer.refused
            outcomes["refused" if refused else "answered"] += 1
            if in_scope and not refused:
                outcomes["in_scope_answered"] += 1
            if not in_scope and refused:
                outcomes["out_of_scope_refused"] += 1
    breakdown = stage_breakdown(retriever, answerer, texts)
    profiles = {}
    if profile_top:
        sample = texts[:PROFILE_QUERIES]
        profiles = {
            "queries": sample,
            "search": profile(lambda q: retriever.search(q), sample, top=profile_top),
            "ask": profile(lambda q: answerer.ask(q), sample, top=profile_top),
        }
    result = {
        "chunks": retriever.index.chunk_count(),
        "retriever_open_seconds": round(open_seconds, 3),
        "answerer_init_seconds": round(answerer_seconds, 3),
        "latency": {name: summary(values) for name, values in times.items()},
        "embed_share_of_search": round(
            statistics.fmean(times["embed"]) / statistics.fmean(times["hybrid"]), 4),
        "outcomes": outcomes,
        "breakdown": breakdown,
        "profile": profiles,
        "contention": {"wall_seconds": round(contention.wall, 2),
                       "own_cpu_seconds": round(contention.own, 2),
                       "other_processes_cpu_seconds": round(contention.others, 2)},
        "rss_kib": {"current_after_queries": rss_kib(), "peak": peak_rss_kib()},
    }
    retriever.close()
    return result
