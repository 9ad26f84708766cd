"""Query benchmark: hybrid search and extractive answers at 1k, 10k and 100k chunks.

    python benchmarks/query.py [--sizes 1000,10000,100000] [--queries 200]
                               [--out benchmarks/out/query.json] [--torch-threads N]
                               [--warmup N] [--profile-top N] [--keep]

One process measures, for every index size, with one loaded embedding model:

1. warm hybrid ``Retriever.search`` latency p50/p95 (a few warm-up queries first), and
   dense-only and bm25-only p50/p95 for context;
2. the query embedding alone (``Embedder.embed_query`` on the same queries) and its share
   of the hybrid search time (mean embed time / mean search time);
3. the extractive ``Answerer.ask`` latency p50/p95 (``llm=None``; it includes its search);
4. where the time goes: every stage of the real code path timed through thin wrappers
   (query embedding, ``collection.count``, Chroma ``query``, BM25 ``KeywordIndex.search``,
   Chroma ``get`` by ids, fusion, near-duplicate collapse; for ``ask`` also the evidence
   features, the refusal model and the extractive sentence scoring);
5. peak RSS (``ru_maxrss``) after each size; at the largest size a cProfile of searches and
   asks (top entries by cumulative time and by own time).

Before the sizes, the query embedding is timed with one and two torch threads (KORA
uses ``embedding_query_threads``, 1 by default: on this 2-core box, when another process
keeps one core busy, two intra-op threads wait on each other). The timings of every step
report how much CPU other processes took meanwhile.

Targets: query embedding p95 <= 25 ms; at 100k chunks hybrid search p95 < 50 ms and
extractive answer p95 < 150 ms. Every timed step meets its question fresh: the
embedder's vector caches are emptied (untimed) before it.

How the indexes are made, and why 100k chunks are synthetic (real German text, recombined):
see ``benchmarks/query_corpus.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import gc
import os
import shutil
import time
from typing import Any

from benchmarks._start import REPO
from benchmarks.machine import Contention
from benchmarks.query_corpus import build_in_child, real_chunks
from benchmarks.query_questions import make_queries
from benchmarks.query_report import (
    Setup,
    check_targets,
    print_profile,
    print_setup,
    print_size,
    print_summary,
    write_result,
)
from benchmarks.query_timing import embed_thread_check, measure_size, refusal_model
from benchmarks.run_files import temporary_folder

DEFAULT_SIZES = (1_000, 10_000, 100_000)
DEFAULT_QUERIES = 200
DEFAULT_OUT = REPO / "benchmarks" / "out" / "query.json"
SEED = 20260101
WARMUP_QUERIES = 10
THREAD_CHECK = 50  # queries for the one-thread/default-threads embedding check


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES),
                        help="index sizes in chunks, comma-separated (default 1000,10000,100000)")
    parser.add_argument("--queries", type=int, default=DEFAULT_QUERIES,
                        help=f"questions per size (default {DEFAULT_QUERIES})")
    parser.add_argument("--warmup", type=int, default=WARMUP_QUERIES,
                        help=f"warm-up questions per size (default {WARMUP_QUERIES})")
    parser.add_argument("--profile-top", type=int, default=25,
                        help="cProfile entries to print at the largest size (0: no profile)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="JSON result file, or a directory to write query.json into")
    parser.add_argument("--torch-threads", type=int, default=0,
                        help="torch intra-op threads for the query embedding (default: "
                        "torch's own choice, as KORA runs)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    try:
        sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        parser.error("--sizes must be comma-separated integers")
    if not sizes or sizes[0] < 1 or args.queries < 1:
        parser.error("--sizes and --queries must be positive")
    args.sizes = sizes
    args.out = args.out if args.out.suffix.lower() == ".json" else args.out / "query.json"
    return args


def prepare(settings: Any, embedder: Any, *, load_seconds: float, queries: int, warmup: int
            ) -> tuple[Setup, list[dict[str, Any]], Any]:
    """The real chunks, the questions, the refusal model and the thread check, made once
    for every size: (what was prepared, the real chunks, the refusal model)."""
    started = time.perf_counter()
    real = real_chunks(settings, embedder)
    real_seconds = time.perf_counter() - started
    questions = make_queries(queries, seed=SEED)
    refusal, refusal_source = refusal_model(embedder)
    with Contention() as check_contention:
        thread_check = embed_thread_check(embedder, [q for q, _ in questions][:THREAD_CHECK])
    setup = Setup(
        settings=settings, dimension=embedder.dimension, load_seconds=load_seconds,
        real_chunks=len(real), real_sentences=sum(len(c["sentences"]) for c in real),
        real_seconds=real_seconds, queries=questions, warmup=warmup, seed=SEED,
        refusal_source=refusal_source, thread_check=thread_check,
        thread_check_contention=check_contention)
    return setup, real, refusal


def forget_chroma_clients() -> None:
    """Chroma caches the system behind every client it opened: drop them, so that a
    finished size's index does not stay in memory while the next one is measured."""
    try:
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
    except Exception:  # a Chroma without it: the next size simply opens another client
        pass


def run_sizes(work: Path, args: argparse.Namespace
              ) -> tuple[Setup, dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
    """Load the model, prepare once, then build and measure every size in ``work``:
    (what was prepared, each size's build, each size's measurements)."""
    from rag.providers.embedding import Embedder
    from rag.settings import Settings

    sizes: list[int] = args.sizes
    results: dict[int, dict[str, Any]] = {}
    builds: dict[int, dict[str, Any]] = {}
    base_settings = Settings.load(data_dir=work / "unused")
    started = time.perf_counter()
    embedder = Embedder.load(base_settings)
    embedder.embed_query("Aufwärmen des Modells.")
    load_seconds = time.perf_counter() - started
    setup, real, refusal = prepare(base_settings, embedder, load_seconds=load_seconds,
                                   queries=args.queries, warmup=args.warmup)
    print_setup(setup, work)

    for number, size in enumerate(sizes):
        data_dir = work / f"data-{size}"
        job = {
            "data_dir": str(data_dir), "size": size, "seed": SEED,
            "real": real,
            "embedding_model": embedder.name, "dimension": embedder.dimension,
            "report": str(work / f"build-{size}.json"),
        }
        print(f"\n[{number + 1}/{len(sizes)}] building {size:,} chunks ...", flush=True)
        builds[size] = build_in_child(job)
        settings = Settings.load(data_dir=data_dir)
        largest = size == sizes[-1]
        results[size] = measure_size(settings, embedder, refusal, setup.queries,
                                     warmup=args.warmup,
                                     profile_top=args.profile_top if largest else 0)
        print_size(size, builds[size], results[size])
        if largest and results[size]["profile"]:
            print_profile(size, results[size]["profile"])
        sys.stdout.flush()
        gc.collect()
        forget_chroma_clients()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    return setup, builds, results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    import torch

    if args.torch_threads > 0:
        torch.set_num_threads(args.torch_threads)
    with temporary_folder("kora-bench-query-", keep=args.keep) as work:
        load_at_start = os.getloadavg()
        setup, builds, results = run_sizes(work, args)
    machine_load = print_summary(results, load_at_start)
    targets = check_targets(setup, results)
    write_result(args.out, setup, builds, results, machine_load=machine_load, targets=targets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
