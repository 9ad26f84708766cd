"""Shared fixtures: the real embedding model (loaded once), isolated data directories."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.offline import enforce_offline

enforce_offline()

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's KORA_* variables or kora.toml."""
    for key in list(os.environ):
        if key.startswith("KORA_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("KORA_CONFIG", str(tmp_path / "absent-kora.toml"))


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    from rag.providers.embedding import Embedder
    from rag.settings import Settings

    return Embedder.load(Settings.load())


@pytest.fixture(scope="session")
def shipped(tmp_path_factory: pytest.TempPathFactory, embedder):  # type: ignore[no-untyped-def]
    """(settings, retriever) over the shipped corpus, indexed once per test run with the
    default settings; tests only read it (a module that needs other settings defines
    its own ``shipped``)."""
    from ingest.pipeline import Ingestor
    from rag.providers.vectorstore import DataDir
    from rag.retrieval import Retriever
    from rag.settings import Settings

    settings = Settings.load(data_dir=tmp_path_factory.mktemp("shipped"), corpus_dir=CORPUS)
    data_dir = DataDir(settings)
    Ingestor(settings, embedder, data_dir).run()
    retriever = Retriever.open(settings, data_dir, embedder)
    yield settings, retriever
    retriever.close()


@pytest.fixture
def settings_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    """settings_for(corpus_dir) -> Settings with a fresh data directory under tmp_path."""
    from rag.settings import Settings

    def make(corpus_dir: Path | None = None, **overrides):  # type: ignore[no-untyped-def]
        return Settings.load(
            data_dir=tmp_path / "data", corpus_dir=corpus_dir or CORPUS, **overrides
        )

    return make


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Iterator[Path]:
    """A writable copy of the shipped corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    yield target
