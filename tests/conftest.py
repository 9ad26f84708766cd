"""Shared fixtures: the real embedding model (loaded once), the shipped corpus indexed once,
isolated data directories, and loopback servers for the LLM fakes (tests/fakes.py)."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import pytest

from rag.offline import enforce_offline
from tests.servers import LoopbackServer, Respond

if TYPE_CHECKING:
    from loopback import PostgresCluster
    from rag.providers.embedding import Embedder
    from rag.retrieval import Retriever
    from rag.settings import Settings

enforce_offline()

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"

# what `shipped` gives: the settings it was indexed with and a retriever over it
Shipped: TypeAlias = "tuple[Settings, Retriever]"


class SettingsFor(Protocol):
    def __call__(self, corpus_dir: Path | None = None, **overrides: Any) -> Settings: ...


class IndexedCopy(Protocol):
    def __call__(self, base: Path, **overrides: Any) -> Settings: ...


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's KORA_* variables or kora.toml."""
    for key in list(os.environ):
        if key.startswith("KORA_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("KORA_CONFIG", str(tmp_path / "absent-kora.toml"))


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """One real PostgreSQL for the whole session (Debian's package ``postgresql``)."""
    from loopback import PostgresCluster, server_binaries

    binaries = server_binaries()
    if binaries is None:
        pytest.skip("PostgreSQL tests need Debian's postgresql package "
                    "(/usr/lib/postgresql/*/bin/initdb); .ci/run installs it")
    cluster = PostgresCluster(binaries).create()
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """People's database for a storage test, once per backend: None is the embedded
    SQLite file in the data directory, else a fresh database in the session's cluster."""
    if request.param == "sqlite":
        return None
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.new_database()


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    from rag.providers.embedding import Embedder
    from rag.settings import Settings

    return Embedder.load(Settings.load())


@pytest.fixture(scope="session")
def shipped_data(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """The data directory of the shipped corpus, indexed once per test run with the
    default settings. Nobody opens it: `shipped` and `indexed_copy` work on copies, which
    are only sound while no Chroma client has the source open."""
    from ingest.pipeline import Ingestor
    from rag.providers.vectorstore import DataDir
    from rag.settings import Settings

    settings = Settings.load(data_dir=tmp_path_factory.mktemp("shipped-built") / "data",
                             corpus_dir=CORPUS)
    Ingestor(settings, embedder, DataDir(settings)).run()
    return settings.data_dir


@pytest.fixture(scope="session")
def shipped(tmp_path_factory: pytest.TempPathFactory, shipped_data: Path,
            embedder: Embedder) -> Iterator[Shipped]:
    """(settings, retriever) over the shipped corpus with the default settings; tests only
    read it (a test that changes an index takes its own from `indexed_copy`)."""
    from rag.providers.vectorstore import DataDir
    from rag.retrieval import Retriever
    from rag.settings import Settings

    data = tmp_path_factory.mktemp("shipped") / "data"
    shutil.copytree(shipped_data, data)
    settings = Settings.load(data_dir=data, corpus_dir=CORPUS)
    retriever = Retriever.open(settings, DataDir(settings), embedder)
    yield settings, retriever
    retriever.close()


@pytest.fixture(scope="session")
def indexed_copy(shipped_data: Path, embedder: Embedder) -> IndexedCopy:
    """indexed_copy(base, **overrides) -> Settings over ``base/corpus``, a copy of the
    shipped corpus, and ``base/data``, a copy of its index (llm "none" unless overridden):
    for a module that writes to its corpus or index, at the cost of a copy, not an ingest."""
    from ingest.pipeline import Ingestor
    from rag.providers.vectorstore import DataDir
    from rag.settings import Settings

    def make(base: Path, **overrides: Any) -> Settings:
        corpus = base / "corpus"
        shutil.copytree(CORPUS, corpus)
        shutil.copytree(shipped_data, base / "data")
        settings = Settings.load(data_dir=base / "data", corpus_dir=corpus,
                                 **{"llm": "none", **overrides})
        data_dir = DataDir(settings)
        built = data_dir.last_ingest()
        # the index records where each file lies, and the admin area deletes and prunes by
        # that: an ingest over the copied folder finds every file unchanged and records
        # its new place (as after moving a corpus); the report of the real ingest stays
        Ingestor(settings, embedder, data_dir).run([corpus])
        if built is not None:
            data_dir.record_ingest(built)
        return settings

    return make


@pytest.fixture
def settings_for(tmp_path: Path) -> SettingsFor:
    """settings_for(corpus_dir) -> Settings with a fresh data directory under tmp_path."""
    from rag.settings import Settings

    def make(corpus_dir: Path | None = None, **overrides: Any) -> Settings:
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


@pytest.fixture
def serve() -> Iterator[Callable[[Respond], LoopbackServer]]:
    """serve(respond) -> a LoopbackServer, closed after the test."""
    servers: list[LoopbackServer] = []

    def start(respond: Respond) -> LoopbackServer:
        servers.append(LoopbackServer(respond))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def closed_url() -> str:
    """A loopback URL where nothing listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
