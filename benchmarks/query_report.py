"""What the query benchmark prints and writes: the set-up, each size, the summary, the
targets and the JSON result."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.machine import Contention
from benchmarks.query_corpus import NOISE_SIGMA, NOTE, SHIPPED_CORPUS
from benchmarks.run_files import chosen_settings, result_head, write_result_file

TARGET_SIZE = 100_000
TARGET_SEARCH_P95_MS = 50.0
TARGET_ANSWER_P95_MS = 150.0
TARGET_EMBED_P95_MS = 25.0


@dataclass(frozen=True)
class Setup:
    """What was prepared and measured once, before the index sizes."""

    settings: Any
    dimension: int
    load_seconds: float
    real_chunks: int
    real_sentences: int
    real_seconds: float
    queries: list[tuple[str, bool]]
    warmup: int
    seed: int
    refusal_source: str
    thread_check: dict[str, Any]
    thread_check_contention: Contention

    @property
    def out_of_scope(self) -> int:
        return sum(1 for _, in_scope in self.queries if not in_scope)


def print_setup(setup: Setup, work: Path) -> None:
    import torch

    settings, check = setup.settings, setup.thread_check_contention
    print(f"Model: {settings.embedding_model} (dim {setup.dimension}) loaded in "
          f"{setup.load_seconds:.1f} s; torch threads {torch.get_num_threads()}, cpu count "
          f"{os.cpu_count()}")
    print(f"Real chunks: {setup.real_chunks} from {SHIPPED_CORPUS.name}/ "
          f"({setup.real_sentences} sentences), chunked and embedded in "
          f"{setup.real_seconds:.1f} s")
    print(f"Queries: {len(setup.queries)} ({setup.out_of_scope} out of scope), "
          f"warm-up {setup.warmup} per size; settings: retriever {settings.retriever}, "
          f"fusion {settings.fusion}, top_k {settings.top_k}, decompound "
          f"{settings.keyword_decompound}")
    print(f"Refusal model: {setup.refusal_source}")
    print("query embedding alone: "
          + ", ".join(f"{key.split('_')[1]} torch thread(s) p50 {row['p50_ms']:.1f} / "
                      f"p95 {row['p95_ms']:.1f} ms" for key, row in setup.thread_check.items())
          + f" (KORA uses {settings.embedding_query_threads}; other processes used "
          f"{check.others:.1f} CPU s during {check.wall:.1f} s)")
    print(f"NOTE: {NOTE}")
    print(f"Work directory: {work}", flush=True)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_size(size: int, build: dict[str, Any], result: dict[str, Any]) -> None:
    latency = result["latency"]
    print(f"\n=== {result['chunks']:,} chunks (requested {size:,}) ===")
    print(f"build (child process): {build['seconds']:.1f} s (generate "
          f"{build['generate_seconds']:.1f} s, chroma add {build['chroma_add_seconds']:.1f} s, "
          f"keyword index {build['keyword_index_seconds']:.1f} s), build peak RSS "
          f"{build['peak_rss_kib'] / 1024:.0f} MiB")
    print(f"Retriever.open {result['retriever_open_seconds']:.2f} s, Answerer() "
          f"{result['answerer_init_seconds']:.2f} s")
    print(f"{'':<28}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}{'max ms':>9}")
    for key, label in (("hybrid", "hybrid search"), ("dense", "dense-only search"),
                       ("bm25", "bm25-only search"), ("embed", "embed_query alone"),
                       ("ask", "extractive Answerer.ask")):
        row = latency[key]
        print(f"{label:<28}{row['p50_ms']:>9.1f}{row['p95_ms']:>9.1f}{row['mean_ms']:>9.1f}"
              f"{row['max_ms']:>9.1f}")
    print(f"query embedding share of hybrid search time: {result['embed_share_of_search']:.1%} "
          "(mean embed_query / mean search)")
    outcomes = result["outcomes"]
    print(f"answers: {outcomes['answered']} answered, {outcomes['refused']} refused "
          f"(in scope answered {outcomes['in_scope_answered']}, out of scope refused "
          f"{outcomes['out_of_scope_refused']})")
    for name in ("search", "ask"):
        part = result["breakdown"][name]
        stages = ", ".join(f"{label} {ms:.2f}" for label, ms in
                           sorted(part["stages"].items(), key=lambda item: -item[1]))
        print(f"{name} stages, ms per query (total {part['total_ms']:.1f}): {stages}")
    contention = result["contention"]
    print(f"CPU: own {contention['own_cpu_seconds']:.1f} s, other processes "
          f"{contention['other_processes_cpu_seconds']:.1f} s during "
          f"{contention['wall_seconds']:.1f} s of timed queries")
    print(f"RSS: current {result['rss_kib']['current_after_queries'] / 1024:.0f} MiB, "
          f"peak (ru_maxrss, this process) {result['rss_kib']['peak'] / 1024:.0f} MiB")


def print_profile(size: int, profiles: dict[str, Any]) -> None:
    n = len(profiles["queries"])
    for name in ("search", "ask"):
        part = profiles[name]
        print(f"\ncProfile at {size:,} chunks, {name}: ms per query over {n} queries "
              "(profiler overhead included); top by cumulative time, the model's forward "
              "pass folded into embed_query:")
        for entry in part["by_cumulative"]:
            print(f"  {entry['cumulative_ms_per_query']:>9.2f}  {entry['calls_per_query']:>8.1f}x"
                  f"  {entry['function']}")
        print("  top by own time:")
        for entry in part["by_own_time"]:
            print(f"  {entry['own_ms_per_query']:>9.2f}  {entry['calls_per_query']:>8.1f}x"
                  f"  {entry['function']}")


def print_summary(results: dict[int, dict[str, Any]],
                  load_at_start: tuple[float, float, float]) -> dict[str, Any]:
    """The table over all sizes and the CPU competition; returns the machine's load."""
    load_at_end = os.getloadavg()
    print("\n=== summary ===")
    print(f"{'chunks':>8}{'hybrid p50':>11}{'p95':>7}{'dense p50':>10}{'p95':>7}"
          f"{'bm25 p50':>9}{'p95':>7}{'ask p50':>9}{'p95':>7}{'embed share':>12}{'peak MiB':>9}")
    for size in results:
        lat = results[size]["latency"]
        print(f"{size:>8}{lat['hybrid']['p50_ms']:>11.1f}{lat['hybrid']['p95_ms']:>7.1f}"
              f"{lat['dense']['p50_ms']:>10.1f}{lat['dense']['p95_ms']:>7.1f}"
              f"{lat['bm25']['p50_ms']:>9.1f}{lat['bm25']['p95_ms']:>7.1f}"
              f"{lat['ask']['p50_ms']:>9.1f}{lat['ask']['p95_ms']:>7.1f}"
              f"{results[size]['embed_share_of_search']:>12.1%}"
              f"{results[size]['rss_kib']['peak'] / 1024:>9.0f}")
    others = sum(r["contention"]["other_processes_cpu_seconds"] for r in results.values())
    wall = sum(r["contention"]["wall_seconds"] for r in results.values())
    contended = others > 0.05 * wall
    print(f"load average at start {load_at_start[0]:.2f}, at end {load_at_end[0]:.2f}; other "
          f"processes used {others:.1f} CPU s during {wall:.1f} s of timed queries")
    if contended:
        print("WARNING: other processes competed for the CPU (2 cores): latencies are "
              "inflated; rerun on an idle machine for reliable numbers.")
    print(f"NOTE: {NOTE}")
    return {
        "loadavg_1min_start": round(load_at_start[0], 2),
        "loadavg_1min_end": round(load_at_end[0], 2),
        "other_processes_cpu_seconds": round(others, 1),
        "contended": contended,
    }


def check_targets(setup: Setup, results: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    embed_row = setup.thread_check[f"threads_{setup.settings.embedding_query_threads}"]
    targets: list[dict[str, Any]] = [
        {"name": "query embedding p95", "value_ms": embed_row["p95_ms"],
         "target_ms": TARGET_EMBED_P95_MS,
         "result": verdict(embed_row["p95_ms"] <= TARGET_EMBED_P95_MS)},
    ]
    if TARGET_SIZE in results:
        lat = results[TARGET_SIZE]["latency"]
        targets += [
            {"name": "hybrid search p95", "value_ms": lat["hybrid"]["p95_ms"],
             "target_ms": TARGET_SEARCH_P95_MS,
             "result": verdict(lat["hybrid"]["p95_ms"] < TARGET_SEARCH_P95_MS)},
            {"name": "extractive answer p95", "value_ms": lat["ask"]["p95_ms"],
             "target_ms": TARGET_ANSWER_P95_MS,
             "result": verdict(lat["ask"]["p95_ms"] < TARGET_ANSWER_P95_MS)},
        ]
        print(f"\nTargets (search and answer at {TARGET_SIZE:,} chunks):")
        for target in targets:
            print(f"  {target['name']:<24}{target['value_ms']:>8.1f} ms  "
                  f"(target < {target['target_ms']:.0f} ms)  {target['result']}")
    else:
        print(f"\nTargets apply at {TARGET_SIZE:,} chunks, which was not measured.")
    return targets


def write_result(out: Path, setup: Setup, builds: dict[int, dict[str, Any]],
                 results: dict[int, dict[str, Any]], *, machine_load: dict[str, Any],
                 targets: list[dict[str, Any]]) -> None:
    settings, check = setup.settings, setup.thread_check_contention
    result = {
        **result_head("query"),
        "settings": chosen_settings(
            settings, "embedding_model", "retriever", "fusion", "top_k", "keyword_decompound"),
        "method": {
            "note": NOTE,
            "real_chunks": setup.real_chunks,
            "real_sentences": setup.real_sentences,
            "noise_sigma": NOISE_SIGMA,
            "seed": setup.seed,
            "queries": len(setup.queries),
            "out_of_scope_queries": setup.out_of_scope,
            "warmup_queries": setup.warmup,
            "refusal_model": setup.refusal_source,
        },
        "embed_query_thread_check": {
            **setup.thread_check,
            "other_processes_cpu_seconds": round(check.others, 2),
            "wall_seconds": round(check.wall, 2),
        },
        "model_load_seconds": round(setup.load_seconds, 3),
        "sizes": {str(size): {"build": {k: round(v, 3) if isinstance(v, float) else v
                                        for k, v in builds[size].items()},
                              **results[size]} for size in results},
        "machine_load": machine_load,
        "targets": targets,
    }
    write_result_file(out, result)
