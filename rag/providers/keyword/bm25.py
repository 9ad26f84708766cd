"""BM25 over the indexed chunks, with German stemming and stopwords (bm25s + Snowball).

The keyword index is derived from the Chroma collection (the chunks and their texts) and
rebuilt after every ingest that changed it; it is written to a fresh directory and
swapped in, so a reader never sees half of it. It stores the chunk ids, a fingerprint,
and the generation and version of the index it was built from: a worker whose own copy
(in its own data directory) is older than the live version builds it again from Chroma.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.files import replace_folder, temporary_folder_for, write_json_atomic
from rag.jsontypes import JSONObject, as_int

if TYPE_CHECKING:
    import bm25s

    from rag.text import CompoundSplitter

MANIFEST = "manifest.json"
VOCABULARY = "vocabulary.json"
# bump when the analysis changes: stored indexes are then rebuilt (3: the word vocabulary,
# 4: its sentence starts)
ANALYZER_VERSION = 4
_TOKEN = re.compile(r"\w+", re.UNICODE)
# a word as written, for the vocabulary: letters (with hyphens inside), no digits
_SURFACE = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_SENTENCE_BREAK = re.compile(r"[.!?:#\n|„“\"»«(\[]\s*$")
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
        from bm25s.stopwords import STOPWORDS_GERMAN

        # a PyStemmer object keeps state between calls and must not be used by two
        # threads at once (its documentation says so): one per thread
        self._local = threading.local()
        self._stopwords = frozenset(STOPWORDS_GERMAN)
        self.decompound = decompound
        self.splitter: CompoundSplitter | None = None
        if decompound:
            from rag.text import CompoundSplitter

            self.splitter = CompoundSplitter()

    @property
    def name(self) -> str:
        return analyzer_name(decompound=self.decompound)

    @property
    def _stemmer(self) -> Any:
        stemmer = getattr(self._local, "stemmer", None)
        if stemmer is None:
            import Stemmer

            stemmer = self._local.stemmer = Stemmer.Stemmer("german")
        return stemmer

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


@dataclass(frozen=True)
class Vocabulary:
    """The words of the indexed texts as written: how often each occurs (lower-cased) and
    how the documents usually write it inside a sentence ("Stadt", "KI", "openCoDE").
    Questions typed all in lower case or with a typo are read against it: German nouns
    and names are the words the documents capitalise, and a word the documents never
    use is likely misspelt."""

    counts: dict[str, tuple[int, str]]  # word -> (occurrences, usual form mid-sentence)

    @classmethod
    def of(cls, texts: list[str]) -> Vocabulary:
        totals: dict[str, int] = {}
        forms: dict[str, dict[str, int]] = {}
        for text in texts:
            for match in _SURFACE.finditer(text):
                word = match.group(0)
                lower = word.lower()
                totals[lower] = totals.get(lower, 0) + 1
                inside = match.start() > 0 and not _SENTENCE_BREAK.search(
                    text[max(0, match.start() - 3) : match.start()])
                if inside:
                    seen = forms.setdefault(lower, {})
                    seen[word] = seen.get(word, 0) + 1
        return cls({
            word: (n, max(forms[word].items(), key=lambda kv: kv[1])[0] if word in forms else "")
            for word, n in totals.items()
        })

    def count(self, word: str) -> int:
        entry = self.counts.get(word.lower())
        return entry[0] if entry else 0

    def usual_form(self, word: str) -> str | None:
        """How the documents write ``word`` inside a sentence (None: never seen there)."""
        entry = self.counts.get(word.lower())
        return entry[1] or None if entry else None

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.counts, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return cls({})
        return cls({str(word): (int(n), str(form)) for word, (n, form) in data.items()})


class KeywordIndex:
    def __init__(self, bm25: bm25s.BM25 | None, ids: list[str], analyzer: GermanAnalyzer,
                 manifest: JSONObject, vocabulary: Vocabulary | None = None) -> None:
        self._bm25 = bm25
        self.ids = ids
        self.analyzer = analyzer
        self.manifest = manifest
        self.vocabulary = vocabulary or Vocabulary({})

    @classmethod
    def build(
        cls, ids: list[str], texts: list[str], directory: Path, *, analyzer: GermanAnalyzer,
        source: JSONObject | None = None,
    ) -> None:
        """Index ``texts`` and write the index to ``directory`` (replacing it atomically).
        ``source`` (generation and version of the index read) goes into the manifest."""
        import bm25s

        temporary = temporary_folder_for(directory)
        if ids:
            retriever = bm25s.BM25()
            tokens = [analyzer.analyze(text) for text in texts]
            # bm25s wants each document non-empty in vocabulary terms; a placeholder keeps ids
            retriever.index([t or ["\0"] for t in tokens], show_progress=False)
            retriever.save(str(temporary), show_progress=False)
        (temporary / "ids.json").write_text(json.dumps(ids), encoding="utf-8")
        Vocabulary.of(texts).save(temporary / VOCABULARY)
        manifest = {"count": len(ids), "fingerprint": fingerprint(ids), "analyzer": analyzer.name,
                    **(source or {})}
        (temporary / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
        replace_folder(directory, with_folder=temporary)

    @staticmethod
    def read_manifest(directory: Path) -> JSONObject | None:
        try:
            data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return data if isinstance(data, dict) else None

    @classmethod
    def is_built_from(cls, directory: Path, *, analyzer: str, generation: str, version: int,
                      count: int) -> bool:
        """Whether the index in ``directory`` was built with ``analyzer`` from ``count``
        chunks of that version of that generation."""
        manifest = cls.read_manifest(directory)
        if manifest is None:
            return False
        return bool(
            manifest.get("analyzer") == analyzer
            and _built_from(manifest, generation, version)
            and manifest.get("count") == count
        )

    @classmethod
    def relabel(cls, directory: Path, *, built_from: tuple[str, int],
                now_from: tuple[str, int]) -> None:
        """An index built from ``built_from`` (generation, version) is current for
        ``now_from`` too: say so in its manifest, so that it is not built again."""
        manifest = cls.read_manifest(directory)
        if manifest is None:
            return
        if _built_from(manifest, *built_from):
            write_json_atomic(directory / MANIFEST, {**manifest, "generation": now_from[0],
                                                     "version": now_from[1]})

    @classmethod
    def load(cls, directory: Path, *, analyzer: GermanAnalyzer) -> KeywordIndex | None:
        manifest = cls.read_manifest(directory)
        if manifest is None:
            return None
        import bm25s

        ids = json.loads((directory / "ids.json").read_text(encoding="utf-8"))
        bm25 = bm25s.BM25.load(str(directory), show_progress=False) if ids else None
        return cls(bm25, ids, analyzer, manifest, Vocabulary.load(directory / VOCABULARY))

    @property
    def document_count(self) -> int:
        """How many chunks the index holds (1 for an empty index, so an IDF stays finite)."""
        return int(self._bm25.scores["num_docs"]) if self._bm25 is not None else 1

    def document_frequencies(self) -> dict[str, int]:
        """Stem -> in how many chunks it occurs."""
        if self._bm25 is None:
            return {}
        indptr = self._bm25.scores["indptr"]
        return {
            term: int(indptr[column + 1] - indptr[column])
            for term, column in self._bm25.vocab_dict.items()
            if column + 1 < len(indptr)  # bm25s keeps an empty placeholder term last
        }

    def search(self, query: str, *, top_k: int) -> list[KeywordHit]:
        terms = self.analyzer.analyze(query)
        if not terms or self._bm25 is None:
            return []
        vocabulary = self._bm25.vocab_dict
        known = [term for term in terms if term in vocabulary]
        if not known:
            return []
        k = min(top_k, len(self.ids))
        documents, scores = self._bm25.retrieve([known], k=k, show_progress=False)
        return [
            KeywordHit(self.ids[int(doc)], float(score))
            for doc, score in zip(documents[0], scores[0], strict=True)
            if score > 0
        ]


def _built_from(manifest: JSONObject, generation: str, version: int) -> bool:
    """Whether a keyword index's manifest names that version of that generation as its
    source (an older manifest without them counts as version 0 of its generation)."""
    return (manifest.get("generation", generation) == generation
            and as_int(manifest.get("version", 0)) == version)


def searchable_text(title: str, location: str, text: str) -> str:
    """A chunk as the keyword index sees it: its title and section count as its words
    (each on a line of its own, so the vocabulary sees where the text's first sentence
    starts)."""
    return f"{title}\n{location}\n{text}"
