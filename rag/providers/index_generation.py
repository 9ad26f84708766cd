"""An index generation as search reads it: its vectors (the vector store's ``Index``) and
its keyword index, derived from those vectors' chunks into a folder of the data directory.

The vector store and the keyword index know nothing of each other; this module is where
they meet: where a generation's keyword index lives, whether it is current, how it is
rebuilt (one build at a time per data directory, under the keyword lock), and that
publishing a generation carries its keyword index along.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from rag.files import file_lock
from rag.providers.keyword import GermanAnalyzer, KeywordIndex, analyzer_name, searchable_text
from rag.providers.vectorstore import DataDir, Index
from rag.settings import Settings

KEYWORD_FOLDER = "keyword"
KEYWORD_LOCK_FILE = "keyword.lock"


def keyword_dir(index: Index) -> Path:
    """Where the keyword index of ``index``'s generation lives in this data directory."""
    return index.data_dir.local_dir(index.generation.name, KEYWORD_FOLDER)


def keyword_lock(data_dir: DataDir) -> contextlib.AbstractContextManager[None]:
    """One keyword index build at a time per data directory (workers and ingests)."""
    return file_lock(data_dir.path / KEYWORD_LOCK_FILE)


def keyword_index_current(index: Index, settings: Settings) -> bool:
    """Whether the keyword index on disk was built from this version of the index, with
    the analyzer the settings ask for, and holds as many chunks as the vector store."""
    generation = index.generation
    return KeywordIndex.is_built_from(
        keyword_dir(index), analyzer=analyzer_name(decompound=settings.keyword_decompound),
        generation=generation.name, version=generation.version, count=index.chunk_count())


def rebuild_keyword_index(index: Index, settings: Settings) -> None:
    """Derive the BM25 index from what the vector store holds now. Callers hold the
    data directory's keyword lock (``keyword_lock``)."""
    ids: list[str] = []
    texts: list[str] = []
    for page in index.chunk_pages():
        ids.extend(page.ids)
        texts.extend(
            searchable_text(str(meta.get("title", "")), str(meta.get("location", "")), text)
            for text, meta in zip(page.texts, page.metadatas, strict=True)
        )
    analyzer = GermanAnalyzer(decompound=settings.keyword_decompound)
    source = {"generation": index.generation.name, "version": index.generation.version}
    KeywordIndex.build(ids, texts, keyword_dir(index), analyzer=analyzer, source=source)


def refresh_keyword_index(index: Index, settings: Settings, *, force: bool = False) -> None:
    """Rebuild the keyword index of ``index`` if it is stale (or ``force``). Several
    processes may share a data directory: one builds, the others wait and find it built."""
    with keyword_lock(index.data_dir):
        _rebuild_if_stale(index, settings, force=force)


def _rebuild_if_stale(index: Index, settings: Settings, *, force: bool) -> None:
    if force or not keyword_index_current(index, settings):
        rebuild_keyword_index(index, settings)


def open_keyword_index(index: Index, settings: Settings) -> KeywordIndex | None:
    """The keyword index of ``index``, rebuilt first if stale; nobody swaps its files
    while they are read."""
    analyzer = GermanAnalyzer(decompound=settings.keyword_decompound)
    with keyword_lock(index.data_dir):
        _rebuild_if_stale(index, settings, force=False)
        return KeywordIndex.load(keyword_dir(index), analyzer=analyzer)


def keyword_manifest(index: Index) -> dict[str, object] | None:
    """What the keyword index of ``index`` says of itself (for `kora status`)."""
    return KeywordIndex.read_manifest(keyword_dir(index))


def publish(index: Index) -> None:
    """Make ``index`` the live generation (``DataDir.publish``); the keyword index this
    process built from the chunks it published is current for the new version too."""
    built = index.generation
    index.data_dir.publish(index)
    published = index.generation
    with keyword_lock(index.data_dir):
        KeywordIndex.relabel(keyword_dir(index), built_from=built.key,
                             now_from=published.key)
