"""BM25 over the indexed chunks, with German stemming and stopwords (bm25s + Snowball).

The keyword index is derived from the Chroma collection (the chunks and their texts) and
rebuilt after every ingest that changed it; it is written to a fresh directory and
swapped in, so a reader never sees half of it. It stores the chunk ids and a fingerprint
of the collection, so a stale index (after an interrupted ingest) is detected.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.compounds import CompoundSplitter
    from rag.settings import Settings
    from rag.store import Index

MANIFEST = "manifest.json"
ANALYZER_VERSION = 2  # bump when the analysis changes: stored indexes are then rebuilt
_TOKEN = re.compile(r"\w+", re.UNICODE)
# "30 %" and "30 Prozent", "5 Mio. €" and "5 Millionen Euro" must meet
_SYMBOL_WORDS = {"%": "prozent", "€": "euro", "§": "paragraf"}
_SYMBOLS = re.compile("[%€§]")


def analyzer_name(*, decompound: bool) -> str:
    return f"german-snowball.{ANALYZER_VERSION}" + ("+decompound" if decompound else "")


def fingerprint(ids: list[str]) -> str:
    digest = hashlib.sha256()
    for chunk_id in sorted(ids):
        digest.update(chunk_id.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


class GermanAnalyzer:
    """Lower-case, German stopwords out, Snowball German stems (ä/ö/ü/ß folded), and,
    with ``decompound``, the stems of a compound's parts after the compound's own stem."""

    def __init__(self, *, decompound: bool) -> None:
        import Stemmer
        from bm25s.stopwords import STOPWORDS_GERMAN

        self._stemmer = Stemmer.Stemmer("german")
        self._stopwords = frozenset(STOPWORDS_GERMAN)
        self.decompound = decompound
        self.splitter: CompoundSplitter | None = None
        if decompound:
            from rag.compounds import CompoundSplitter

            self.splitter = CompoundSplitter()

    @property
    def name(self) -> str:
        return analyzer_name(decompound=self.decompound)

    @staticmethod
    def stem_words(words: list[str]) -> list[str]:
        import Stemmer

        return list(Stemmer.Stemmer("german").stemWords(words))

    def words(self, text: str) -> list[str]:
        """The content words of ``text``, lower-cased, before stemming."""
        text = _SYMBOLS.sub(lambda m: f" {_SYMBOL_WORDS[m.group(0)]} ", text.lower())
        return [w for w in _TOKEN.findall(text) if len(w) > 1 and w not in self._stopwords]

    def analyze(self, text: str) -> list[str]:
        words = self.words(text)
        if self.splitter is not None:
            expanded: list[str] = []
            for word in words:
                expanded.append(word)
                parts = self.splitter.split(word)
                if len(parts) > 1:
                    expanded.extend(p for p in parts if len(p) > 2 and p not in self._stopwords)
            words = expanded
        return list(self._stemmer.stemWords(words))


@dataclass
class KeywordHit:
    chunk_id: str
    score: float


class KeywordIndex:
    def __init__(self, retriever: Any, ids: list[str], analyzer: GermanAnalyzer,
                 manifest: dict[str, Any]) -> None:
        self.retriever = retriever
        self.ids = ids
        self.analyzer = analyzer
        self.manifest = manifest

    @classmethod
    def build(
        cls, ids: list[str], texts: list[str], directory: Path, *, analyzer: GermanAnalyzer
    ) -> None:
        """Index ``texts`` and write the index to ``directory`` (replacing it atomically)."""
        import bm25s

        temporary = directory.with_name(f".{directory.name}.{os.getpid()}.tmp")
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir(parents=True)
        if ids:
            retriever = bm25s.BM25()
            tokens = [analyzer.analyze(text) for text in texts]
            # bm25s wants each document non-empty in vocabulary terms; a placeholder keeps ids
            retriever.index([t or ["\0"] for t in tokens], show_progress=False)
            retriever.save(str(temporary), show_progress=False)
        (temporary / "ids.json").write_text(json.dumps(ids), encoding="utf-8")
        manifest = {"count": len(ids), "fingerprint": fingerprint(ids), "analyzer": analyzer.name}
        (temporary / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
        old = directory.with_name(f".{directory.name}.{os.getpid()}.old")
        if directory.exists():
            os.replace(directory, old)
        os.replace(temporary, directory)
        shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def read_manifest(directory: Path) -> dict[str, Any] | None:
        try:
            data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return data if isinstance(data, dict) else None

    @classmethod
    def load(cls, directory: Path, *, analyzer: GermanAnalyzer) -> KeywordIndex | None:
        manifest = cls.read_manifest(directory)
        if manifest is None:
            return None
        import bm25s

        ids = json.loads((directory / "ids.json").read_text(encoding="utf-8"))
        retriever = bm25s.BM25.load(str(directory), show_progress=False) if ids else None
        return cls(retriever, ids, analyzer, manifest)

    def search(self, query: str, *, top_k: int) -> list[KeywordHit]:
        terms = self.analyzer.analyze(query)
        if not terms or self.retriever is None:
            return []
        vocabulary = self.retriever.vocab_dict
        known = [term for term in terms if term in vocabulary]
        if not known:
            return []
        k = min(top_k, len(self.ids))
        documents, scores = self.retriever.retrieve([known], k=k, show_progress=False)
        return [
            KeywordHit(self.ids[int(doc)], float(score))
            for doc, score in zip(documents[0], scores[0], strict=True)
            if score > 0
        ]


def keyword_index_current(index: Index, settings: Settings) -> bool:
    """Whether the keyword index on disk matches Chroma's chunks and the analyzer setting."""
    manifest = KeywordIndex.read_manifest(index.keyword_dir)
    if manifest is None:
        return False
    expected = analyzer_name(decompound=settings.keyword_decompound)
    return bool(
        manifest.get("analyzer") == expected and manifest.get("count") == index.chunk_count()
    )


# embedded Chroma turns a get into one SQL statement; SQLite allows 32,766 variables
READ_PAGE = 10_000


def searchable_text(title: str, location: str, text: str) -> str:
    """A chunk as the keyword index sees it: its title and section count as its words."""
    return f"{title} {location} {text}"


def rebuild_keyword_index(index: Index, settings: Settings) -> None:
    """Derive the BM25 index from what Chroma holds now."""
    ids: list[str] = []
    texts: list[str] = []
    offset = 0
    while True:
        page = index.collection.get(include=["documents", "metadatas"], limit=READ_PAGE,
                                    offset=offset)
        ids.extend(page["ids"])
        texts.extend(
            searchable_text(str(meta.get("title", "")), str(meta.get("location", "")), text)
            for text, meta in zip(page["documents"], page["metadatas"], strict=True)
        )
        if len(page["ids"]) < READ_PAGE:
            break
        offset += READ_PAGE
    analyzer = GermanAnalyzer(decompound=settings.keyword_decompound)
    KeywordIndex.build(ids, texts, index.keyword_dir, analyzer=analyzer)
