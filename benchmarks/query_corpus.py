"""The query benchmark's indexes: real corpus chunks and synthetic ones made from them.

How the indexes are made (and the caveat)
-----------------------------------------
Embedding 100k chunk texts with the bundled model takes about 50 minutes on a 2-core
box, so the chunks are *synthetic but made of real German text*:

* the shipped corpus (``corpus/``) is chunked with KORA's own ``GermanChunker`` and those
  real chunks (~150) are embedded once with the real model ("<header>\\n<chunk>", as the
  ingest pipeline embeds them); they are always part of every index;
* every further chunk recombines 3-6 real sentences: most of them from one real "base"
  chunk (in their original order), the others drawn from random chunks of other
  documents, under the title, section, date and type of the base chunk's document. The
  BM25 side therefore sees realistic German text, vocabulary and chunk lengths;
* a generated chunk gets the embedding of its base chunk plus Gaussian noise (sigma 0.02
  per dimension), re-normalised (cosine to the base vector about 0.93).

Caveat: this is not a real 100k corpus. The vocabulary is that of 17 documents, so the
posting lists of the query terms are much longer than in a broad real corpus of that size
(BM25 scores more candidates: pessimistic for BM25), and every real sentence recurs in
hundreds of chunks, so the top candidates of a query overlap heavily in wording (the
near-duplicate collapse compares many similar passages: pessimistic there too). The
vectors form ~150 tight clusters instead of a spread distribution, which makes the HNSW
search behave differently from a real collection (its latency is of the right order, its
recall is not measured here). Latencies, not retrieval quality, are what this measures.

The index for each size is written straight into a fresh generation of a temporary data
directory (``DataDir.open_for_ingest(rebuild=True)``, Chroma ``add`` in batches,
``rebuild_keyword_index``, ``publish``), in a child process, so that the peak RSS
of this process is that of serving queries; the build's own peak is reported apart.
"""

from __future__ import annotations

import itertools
import json
import math
import multiprocessing
import random
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks._start import REPO
from benchmarks.machine import peak_rss_kib

SHIPPED_CORPUS = REPO / "corpus"
NOISE_SIGMA = 0.02
ADD_BATCH = 5_000
SYNTHETIC_DOC_CHUNKS = 8  # generated chunks per synthetic document id

NOTE = (
    "Index: the real chunks of corpus/ (embedded with the real model) plus synthetic chunks "
    "that recombine 3-6 real corpus sentences (most from one real base chunk, title of its "
    "document) with the base chunk's embedding + N(0, 0.02) noise, re-normalised. Real German "
    "text for BM25, but a 17-document vocabulary (long posting lists, many near-identical "
    "candidates) and clustered vectors: latency is representative in order, not exact; "
    "retrieval quality is not measured."
)


# --- the real chunks ---------------------------------------------------------------------

_LIST_MARKER = re.compile(r"^\s*(?:[-*•–]\s+|\d+[.)]\s+)")
_EMPHASIS = re.compile(r"\*\*|__|`")


def real_chunks(settings: Any, embedder: Any) -> list[dict[str, Any]]:
    """The shipped corpus chunked by KORA's chunker, with real embeddings and sentences."""
    # the pipeline's own steps, not its surface: the chunks are needed without indexing them
    from ingest.nodes import GermanChunker, to_llama_document
    from ingest.readers import read_file
    from ingest.sources import collect_files
    from rag.text import sentence_spans

    chunker = GermanChunker(settings, embedder)
    chunks: list[dict[str, Any]] = []
    for source in collect_files([SHIPPED_CORPUS]):
        parsed = read_file(source.path, max_bytes=int(settings.max_file_mb * 1_000_000))
        document = to_llama_document(source.doc_id, str(source.path), parsed, "")
        for node in chunker.nodes_for(document):
            meta = node.metadata
            text = node.text
            sentences = []
            for start, end in sentence_spans(text):
                sentence = _LIST_MARKER.sub("", text[start:end])
                sentence = " ".join(_EMPHASIS.sub("", sentence).split())
                if len(sentence) >= 20:
                    sentences.append(sentence)
            chunks.append({
                "id": node.id_,
                "text": text,
                "meta": {
                    "doc_id": meta["doc_id"],
                    "title": meta["title"],
                    "source": meta["source"],
                    "location": meta["location"],
                    "date": meta["date"],
                    "date_sort": int(meta["date_sort"]),
                    "type": meta["type"],
                    "start_char": int(meta["start_char"]),
                    "end_char": int(meta["end_char"]),
                    "header": meta["header"],
                },
                "sentences": sentences,
            })
    vectors = embedder.embed_passages([f"{c['meta']['header']}\n{c['text']}" for c in chunks])
    for chunk, vector in zip(chunks, vectors, strict=True):
        chunk["embedding"] = vector
    return chunks


def synthetic_chunks(
    real: list[dict[str, Any]], count: int, *, seed: int
) -> Iterator[tuple[str, str, dict[str, Any], list[float]]]:
    """``count`` generated chunks (id, text, metadata, embedding); the same seed gives the
    same sequence, so a larger index contains every chunk of a smaller one."""
    import numpy as np

    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    bases = [i for i, chunk in enumerate(real) if len(chunk["sentences"]) >= 2]
    by_doc: dict[str, list[int]] = defaultdict(list)
    for i, chunk in enumerate(real):
        if chunk["sentences"]:
            by_doc[chunk["meta"]["doc_id"]].append(i)
    doc_ids = sorted(by_doc)
    vectors = np.asarray([chunk["embedding"] for chunk in real], dtype=np.float32)
    for number in range(count):
        base_index = rng.choice(bases)
        base = real[base_index]
        wanted = rng.randint(3, 6)
        own = min(len(base["sentences"]), rng.randint(math.ceil((wanted + 1) / 2), wanted))
        others = min(wanted - own, own - 1)  # the base chunk always lends most sentences
        picked = sorted(rng.sample(range(len(base["sentences"])), own))
        sentences = [base["sentences"][i] for i in picked]
        for _ in range(others):
            doc = rng.choice([d for d in doc_ids if d != base["meta"]["doc_id"]])
            donor = real[rng.choice(by_doc[doc])]
            sentences.insert(rng.randint(0, len(sentences)), rng.choice(donor["sentences"]))
        text = " ".join(sentences)
        jitter = noise.normal(0.0, NOISE_SIGMA, size=(vectors.shape[1],))
        vector = vectors[base_index] + jitter.astype(np.float32)
        vector /= np.linalg.norm(vector)
        doc_number = number // SYNTHETIC_DOC_CHUNKS
        meta = {
            **base["meta"],
            "doc_id": f"synth/{doc_number:06d}/{base['meta']['doc_id']}",
            "start_char": 0,
            "end_char": len(text),
        }
        yield f"synth/{doc_number:06d}#{number % SYNTHETIC_DOC_CHUNKS}", text, meta, vector.tolist()


# --- building one index (in a child process) ----------------------------------------------


def build_index(job: dict[str, Any]) -> None:
    """Write ``job['size']`` chunks into a fresh generation of ``job['data_dir']`` and
    publish it; the timings and this process's peak RSS go to ``job['report']``."""
    from rag.providers.index_generation import publish, rebuild_keyword_index
    from rag.providers.vectorstore import DataDir, StoredChunk
    from rag.settings import Settings

    settings = Settings.load(data_dir=Path(job["data_dir"]))
    real: list[dict[str, Any]] = job["real"]
    size = job["size"]
    report: dict[str, Any] = {}
    data_dir = DataDir(settings)
    started = time.perf_counter()
    index = data_dir.open_for_ingest(
        embedding_model=job["embedding_model"], dimension=job["dimension"], rebuild=True
    )
    try:
        batch_size = ADD_BATCH
        max_batch = getattr(data_dir.chroma.client, "get_max_batch_size", None)
        if max_batch is not None:
            batch_size = min(batch_size, int(max_batch()))
        rows = itertools.chain(
            ((c["id"], c["text"], c["meta"], c["embedding"]) for c in real[:size]),
            synthetic_chunks(real, max(0, size - len(real)), seed=job["seed"]),
        )
        generate = add = 0.0
        while True:
            t0 = time.perf_counter()
            batch = list(itertools.islice(rows, batch_size))
            t1 = time.perf_counter()
            generate += t1 - t0
            if not batch:
                break
            index.add([StoredChunk(chunk_id, text, meta) for chunk_id, text, meta, _ in batch],
                      embeddings=[embedding for *_, embedding in batch])
            add += time.perf_counter() - t1
        report["generate_seconds"] = generate
        report["chroma_add_seconds"] = add
        t0 = time.perf_counter()
        rebuild_keyword_index(index, settings)
        report["keyword_index_seconds"] = time.perf_counter() - t0
        report["chunks"] = index.chunk_count()
        publish(index)
    finally:
        index.close()
    report["seconds"] = time.perf_counter() - started
    report["peak_rss_kib"] = peak_rss_kib()
    Path(job["report"]).write_text(json.dumps(report), encoding="utf-8")


def build_in_child(job: dict[str, Any]) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    process = context.Process(target=build_index, args=(job,))
    process.start()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"building the {job['size']}-chunk index failed "
                           f"(exit code {process.exitcode})")
    return json.loads(Path(job["report"]).read_text(encoding="utf-8"))
