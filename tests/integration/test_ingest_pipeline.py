"""The incremental ingest on the real model and a real Chroma on disk."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.chunking import chunk_document
from ingest.pipeline import Ingestor
from ingest.readers import read_file
from rag.errors import UsageError
from rag.providers.embedding import Embedder
from rag.providers.index_generation import keyword_dir
from rag.providers.keyword import GermanAnalyzer, KeywordIndex
from rag.providers.vectorstore import DataDir
from rag.retrieval import Retriever
from rag.settings import Settings
from tests.conftest import SettingsFor

pytestmark = pytest.mark.slow

PROTOTYPE = "prototypen/herten-solarpflicht.md"


def expected_chunks(path: Path, settings: Settings, embedder: Embedder) -> int:
    """Chunks the pipeline must write for one file, computed without the pipeline."""
    return len(
        chunk_document(
            read_file(path, max_bytes=10**8),
            count_tokens=embedder.count_tokens,
            max_tokens=settings.chunk_tokens,
            overlap_tokens=settings.chunk_overlap_tokens,
        )
    )


def index_contents(settings: Settings) -> dict[str, str]:
    index = DataDir(settings).open_current()
    contents = {chunk_id: text for page in index.chunk_pages()
                for chunk_id, text in zip(page.ids, page.texts, strict=True)}
    index.close()
    return contents


def test_incremental_runs_have_exact_counts(corpus_copy: Path, settings_for: SettingsFor, embedder: Embedder) -> None:
    settings = settings_for(corpus_copy)
    ingestor = Ingestor(settings, embedder, DataDir(settings))
    files = sorted(p for p in corpus_copy.rglob("*.md"))
    total = sum(expected_chunks(p, settings, embedder) for p in files)

    first = ingestor.run()
    assert (first.added, first.updated, first.unchanged, first.removed) == (len(files), 0, 0, 0)
    assert first.failed == []
    assert first.chunks == total
    contents = index_contents(settings)
    assert len(contents) == total
    assert {chunk_id.split("#")[0] for chunk_id in contents} == {
        p.relative_to(corpus_copy).as_posix() for p in files
    }

    second = ingestor.run()
    assert (second.added, second.updated, second.unchanged, second.chunks) == (0, 0, len(files), 0)
    assert index_contents(settings) == contents

    edited = corpus_copy / PROTOTYPE
    old_chunks = expected_chunks(edited, settings, embedder)
    edited.write_text(
        edited.read_text(encoding="utf-8")
        + "\n## Nachtrag\n\nDer Prüfauftrag für die Solarpflicht wurde im Testlauf um "
        "Gewerbedächer erweitert. Zuständig ist das Bauordnungsamt.\n",
        encoding="utf-8",
    )
    new_chunks = expected_chunks(edited, settings, embedder)
    third = ingestor.run()
    assert (third.added, third.updated, third.unchanged) == (0, 1, len(files) - 1)
    assert third.chunks == new_chunks
    after_edit = index_contents(settings)
    assert len(after_edit) == total - old_chunks + new_chunks
    assert any("Gewerbedächer" in text for text in after_edit.values())
    unchanged_ids = {k for k in contents if not k.startswith(PROTOTYPE)}
    assert {k: after_edit[k] for k in unchanged_ids} == {k: contents[k] for k in unchanged_ids}

    # the keyword index follows Chroma
    index = DataDir(settings).open_current()
    analyzer = GermanAnalyzer(decompound=settings.keyword_decompound)
    keyword = KeywordIndex.load(keyword_dir(index), analyzer=analyzer)
    assert keyword is not None
    assert sorted(keyword.ids) == sorted(after_edit)
    hits = keyword.search("Gewerbedächer Bauordnungsamt", top_k=3)
    assert hits[0].chunk_id.startswith(PROTOTYPE)
    index.close()


def test_prune_removes_deleted_file_from_search(
    corpus_copy: Path, settings_for: SettingsFor, embedder: Embedder
) -> None:
    settings = settings_for(corpus_copy)
    ingestor = Ingestor(settings, embedder, DataDir(settings))
    ingestor.run()
    target = corpus_copy / "prototypen/schwerte-airguardai.md"
    target_chunks = expected_chunks(target, settings, embedder)
    before = len(index_contents(settings))
    query = "AirGuardAI Warnungen vor Bränden und Schadstoffen in Schwerte"

    retriever = Retriever.open(settings, DataDir(settings), embedder)
    best = retriever.search(query, top_k=3, mode="dense")[0].passage
    assert best.doc_id == "prototypen/schwerte-airguardai.md"
    retriever.close()

    target.unlink()
    without_prune = ingestor.run()
    assert without_prune.removed == 0
    assert len(index_contents(settings)) == before

    pruned = ingestor.run(prune=True)
    assert pruned.removed == 1
    assert len(index_contents(settings)) == before - target_chunks
    index = DataDir(settings).open_current()
    retriever = Retriever.open(settings, DataDir(settings), embedder)
    found = {r.passage.doc_id for r in retriever.search(query, top_k=20, mode="dense")}
    retriever.close()
    assert "prototypen/schwerte-airguardai.md" not in found
    analyzer = GermanAnalyzer(decompound=settings.keyword_decompound)
    keyword = KeywordIndex.load(keyword_dir(index), analyzer=analyzer)
    assert keyword is not None
    assert not any(hit.chunk_id.startswith("prototypen/schwerte") for hit in
                   keyword.search("AirGuardAI Schwerte", top_k=20))
    assert "prototypen/schwerte-airguardai.md" not in index.file_states()
    index.close()


def test_moved_corpus_is_not_pruned(
    corpus_copy: Path, tmp_path: Path, settings_for: SettingsFor, embedder: Embedder
) -> None:
    settings = settings_for(corpus_copy)
    ingestor = Ingestor(settings, embedder, DataDir(settings))
    first = ingestor.run()
    moved = tmp_path / "moved"
    shutil.move(corpus_copy, moved)
    again = ingestor.run([moved], prune=True)
    assert (again.unchanged, again.removed, again.chunks) == (first.added, 0, 0)


def test_rebuild_starts_from_empty_and_switches_generation(
    corpus_copy: Path, settings_for: SettingsFor, embedder: Embedder
) -> None:
    settings = settings_for(corpus_copy)
    data_dir = DataDir(settings)
    ingestor = Ingestor(settings, embedder, data_dir)
    first = ingestor.run()
    old_generation = data_dir.current()
    (corpus_copy / "prototypen/unna-aviary.md").unlink()
    rebuilt = ingestor.run(rebuild=True)
    assert rebuilt.added == first.added - 1
    assert rebuilt.unchanged == 0
    assert data_dir.current() != old_generation
    contents = index_contents(settings)
    assert len(contents) == rebuilt.chunks
    assert not any(k.startswith("prototypen/unna-aviary.md") for k in contents)
    # the old generation is gone from disk and from Chroma
    assert not list(settings.data_dir.glob(f"docstore-{old_generation.name}*"))
    assert data_dir.chroma.generation_names() == [data_dir.current().name]


def test_bad_files_are_reported_and_good_ones_indexed(
    tmp_path: Path, settings_for: SettingsFor, embedder: Embedder
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "gut.md").write_text(
        "---\ntitle: Gute Datei\n---\n# Gute Datei\n\nDie Straßenreinigung wird künftig "
        "mit Sensoren geplant.\n", encoding="utf-8")
    (folder / "gut.txt").write_bytes(
        "Die Größe der Grünfläche beträgt drei Hektar.".encode("cp1252")
    )
    (folder / "leer.txt").write_bytes(b"")
    (folder / "kaputt.pdf").write_bytes(b"%PDF-1.4\n this is not really a pdf \x00\x01")
    (folder / "junk.txt").write_bytes(bytes(range(256)) * 20)
    (folder / "tabelle.xlsx").write_bytes(b"PK\x03\x04 spreadsheet")
    (folder / "kaputt.md").write_text("---\ntitle: [unclosed\n---\nText\n", encoding="utf-8")
    unreadable = folder / "gesperrt.txt"
    unreadable.write_text("geheim", encoding="utf-8")
    unreadable.chmod(0)
    settings = settings_for(folder)
    report = Ingestor(settings, embedder, DataDir(settings)).run()
    unreadable.chmod(0o644)

    failed = {Path(f.path).name: f.reason for f in report.failed}
    expected_bad = {"leer.txt", "kaputt.pdf", "junk.txt", "tabelle.xlsx", "kaputt.md"}
    if not _running_as_root():
        expected_bad.add("gesperrt.txt")
    assert expected_bad <= set(failed)
    assert "empty" in failed["leer.txt"]
    assert "PDF" in failed["kaputt.pdf"]
    assert "binary" in failed["junk.txt"]
    assert "unsupported file type" in failed["tabelle.xlsx"]
    assert "front matter" in failed["kaputt.md"]
    indexed = {k.split("#")[0] for k in index_contents(settings)}
    assert {"gut.md", "gut.txt"} <= indexed
    assert not indexed & expected_bad
    texts = " ".join(index_contents(settings).values())
    assert "Größe der Grünfläche" in texts


def _running_as_root() -> bool:
    import os

    return os.geteuid() == 0


def test_failed_update_keeps_the_old_version(corpus_copy: Path, settings_for: SettingsFor, embedder: Embedder) -> None:
    settings = settings_for(corpus_copy)
    ingestor = Ingestor(settings, embedder, DataDir(settings))
    ingestor.run()
    before = index_contents(settings)
    broken = corpus_copy / PROTOTYPE
    broken.write_text("---\ntitle: [kaputt\n---\n", encoding="utf-8")
    report = ingestor.run()
    assert [Path(f.path).name for f in report.failed] == ["herten-solarpflicht.md"]
    assert index_contents(settings) == before


def test_missing_path_is_a_usage_error(tmp_path: Path, settings_for: SettingsFor, embedder: Embedder) -> None:
    settings = settings_for(tmp_path / "nothing-here")
    with pytest.raises(UsageError, match="Path not found"):
        Ingestor(settings, embedder, DataDir(settings)).run()


def test_keyword_index_reads_chroma_in_pages(
    corpus_copy: Path,
    settings_for: SettingsFor,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Embedded Chroma fails on one get of more than 32,766 chunks; the rebuild pages."""
    import rag.providers.vectorstore.index
    from rag.providers.index_generation import rebuild_keyword_index

    settings = settings_for(corpus_copy)
    Ingestor(settings, embedder, DataDir(settings)).run()
    monkeypatch.setattr(rag.providers.vectorstore.index, "READ_PAGE", 7)
    index = DataDir(settings).open_current()
    rebuild_keyword_index(index, settings)
    keyword = KeywordIndex.load(keyword_dir(index),
                                analyzer=GermanAnalyzer(decompound=settings.keyword_decompound))
    assert keyword is not None
    assert sorted(keyword.ids) == sorted(index_contents(settings))
    assert len(keyword.ids) == len(set(keyword.ids)) > 7
    index.close()
