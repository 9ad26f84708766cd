"""Several KORA workers on one real Chroma server (`chroma run`, started here).

Worker A runs in this process (its admin area is driven through its handlers); worker B
is a separate `kora serve` process with its own data directory, as on a second machine;
a `kora ingest` from a third data directory plays the command line elsewhere. The
server is killed with SIGKILL in the middle of an ingest and started again.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from loopback import free_port
from tests.chroma_server import (
    CHROMA,
    ChromaServer,
    TokenProxy,
    Worker,
    kora_environment,
    wait_until,
)
from tests.conftest import CORPUS
from tests.webapp import SCHARRENBACH, factory_with, start_app

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMA.exists(), reason=f"no `chroma` command at {CHROMA} "
                       "(it comes with the chromadb package)"),
]

SUBSET = [
    "konferenzen/jahrestagung-2025.md",
    "prototypen/herten-solarpflicht.md",
    "prototypen/recklinghausen-versiegelung.md",
    "prototypen/schwerte-airguardai.md",
    "projekte/chatbots-buergerservice.md",
]
RUFBUS = "Wie viele Dörfer bedient der Rufbus KIRA im Kreis Lippe?"
RUFBUS_DOC = (
    "---\ntitle: Rufbus KIRA im Kreis Lippe\ntype: projektmeldung\ndate: 2026-03-01\n---\n"
    "# Rufbus KIRA im Kreis Lippe\n\nDer Kreis Lippe erprobt seit März 2026 den Rufbus "
    "KIRA. Die KI plant die Fahrten nach Bestellung per App und bedient 23 Dörfer im "
    "Extertal.\n"
)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chroma-server")


@pytest.fixture(scope="module")
def corpus(base: Path) -> Path:
    target = base / "corpus"
    for name in SUBSET:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(CORPUS / name, target / name)
    return target


@pytest.fixture(scope="module")
def chroma(base: Path) -> Iterator[ChromaServer]:
    server = ChromaServer(base / "chroma-data").start()
    yield server
    server.stop()


def server_settings(base: Path, chroma: ChromaServer, corpus: Path, name: str,
                    **overrides: Any) -> Any:
    from rag.settings import Settings

    return Settings.load(data_dir=base / name, corpus_dir=corpus, llm="none",
                         chroma_url=chroma.url, index_poll_seconds=0.5, **overrides)


@pytest.fixture(scope="module")
def worker_a(base: Path, chroma: ChromaServer, corpus: Path, embedder: Any) -> Iterator[Any]:
    """The first index, built from A's data directory, and worker A serving it."""
    from ingest.pipeline import Ingestor
    from rag.providers.vectorstore import DataDir
    from ui.app import build_app

    settings = server_settings(base, chroma, corpus, "worker-a")
    report = Ingestor(settings, embedder, DataDir(settings)).run([corpus])
    assert report.added == len(SUBSET) and report.failed == []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KORA_ADMIN_PASSWORD", "richtig")
        demo: Any = build_app(settings, assistant_factory=factory_with(embedder))
    yield start_app(demo, settings)
    demo.shared.close()
    demo.close()
    demo.feedback.close()


def start_worker_b(base: Path, chroma: ChromaServer, corpus: Path, name: str) -> Worker:
    env = kora_environment(chroma_url=chroma.url, data_dir=str(base / name),
                           corpus_dir=str(corpus), llm="none", index_poll_seconds="0.5")
    return Worker(env, base / f"{name}.log").wait_ready()


@pytest.fixture(scope="module")
def worker_b(base: Path, chroma: ChromaServer, corpus: Path,
             worker_a: Any) -> Iterator[dict[str, Worker]]:
    holder = {"worker": start_worker_b(base, chroma, corpus, "worker-b")}
    yield holder
    holder["worker"].stop()


def ask(client: Any, question: str) -> tuple[str, str, str]:
    answer, sources, mode = client.predict(question, "alle", api_name="/frage")
    return str(answer), str(sources), str(mode)


def served_index(sources: str) -> str:
    return sources.split('data-index="', 1)[1].split('"', 1)[0]


def kora(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ui.cli", *args], capture_output=True,
                          text=True, env=env, timeout=600, check=False)


# --------------------------------------------------------------------------- the tests


def test_a_second_worker_with_its_own_data_directory_answers(
        worker_b: dict[str, Worker], base: Path) -> None:
    answer, sources, mode = ask(worker_b["worker"].client(), SCHARRENBACH)
    assert "Scharrenbach" in answer and "[1]" in answer and mode == "extraktiv"
    assert "konferenzen/jahrestagung-2025.md" in sources
    # B keeps only its own keyword index: no Chroma, no docstore in its data directory
    kept = {path.name.split("-")[0] for path in (base / "worker-b").iterdir()}
    assert "chroma" not in kept and "docstore" not in kept and "keyword" in kept


def test_ingest_through_one_worker_is_answered_by_the_other(
        worker_a: Any, worker_b: dict[str, Worker], corpus: Path) -> None:
    client_b = worker_b["worker"].client()
    before = served_index(ask(client_b, SCHARRENBACH)[1])
    (corpus / "projekte" / "rufbus-kira.md").write_text(RUFBUS_DOC, encoding="utf-8")
    admin = worker_a.admin
    token, _, _ = admin.login("", "richtig", None)
    report = admin.reindex(token, None)
    assert "Indexierung abgeschlossen: 1 hinzugefügt" in report
    answer_a, _, _ = ask(worker_a_client(worker_a), RUFBUS)
    assert "23 Dörfer" in answer_a

    def b_knows_the_rufbus() -> str:
        answer = ask(client_b, RUFBUS)[0]
        return answer if "23 Dörfer" in answer else ""

    # B notices the new version by itself and answers from it
    answer_b = wait_until(b_knows_the_rufbus, seconds=90,
                          what="worker B answering from the new version")
    assert "[1]" in answer_b
    after = served_index(ask(client_b, RUFBUS)[1])
    assert after.split("@")[0] == before.split("@")[0]  # same generation, next version
    assert int(after.split("@")[1]) > int(before.split("@")[1])
    rows, _ = admin.documents(token, None)
    assert "projekte/rufbus-kira.md" in [row[0] for row in rows]


def worker_a_client(worker_a: Any) -> Any:
    from gradio_client import Client

    return Client(worker_a.kora_url, verbose=False)


def test_rebuild_from_the_command_line_switches_every_worker_without_failures(
        worker_a: Any, worker_b: dict[str, Worker], base: Path, chroma: ChromaServer,
        corpus: Path) -> None:
    client_b = worker_b["worker"].client()
    before = served_index(ask(client_b, SCHARRENBACH)[1])
    answers: list[tuple[str, str]] = []
    errors: list[str] = []
    done = threading.Event()

    def keep_asking() -> None:
        client = worker_b["worker"].client()
        while not done.is_set():
            try:
                answer, sources, _ = ask(client, SCHARRENBACH)
                answers.append((answer, served_index(sources)))
            except Exception as exc:  # every failure is a finding
                errors.append(repr(exc))

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        env = kora_environment(chroma_url=chroma.url, data_dir=str(base / "cli-host"),
                               corpus_dir=str(corpus))
        rebuilt = kora("ingest", "--rebuild", "--json", env=env)
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert json.loads(rebuilt.stdout)["added"] == len(SUBSET) + 1
        wait_until(lambda: served_index(ask(client_b, SCHARRENBACH)[1]).split("@")[0]
                   != before.split("@")[0], seconds=90, what="worker B switching")
    finally:
        done.set()
        asker.join()
    assert errors == []
    assert answers and all("Scharrenbach" in answer for answer, _ in answers)
    # every answer came from the old or the new generation: both published, complete
    new_generation = served_index(ask(client_b, SCHARRENBACH)[1]).split("@")[0]
    assert {index.split("@")[0] for _, index in answers} <= {before.split("@")[0],
                                                            new_generation}
    # A switched too, and the replaced generation stays readable for its grace period
    wait_until(lambda: worker_a.shared.get().generation.name == new_generation,
               seconds=90, what="worker A switching")
    from rag.providers.vectorstore import DataDir

    names = DataDir(worker_a.settings).chroma.generation_names()
    assert set(names) == {new_generation, before.split("@")[0]}


def test_a_worker_restarted_while_the_other_serves(
        worker_a: Any, worker_b: dict[str, Worker], base: Path, chroma: ChromaServer,
        corpus: Path) -> None:
    worker_b["worker"].stop()
    assert "Scharrenbach" in ask(worker_a_client(worker_a), SCHARRENBACH)[0]
    # back, as on a fresh machine: an empty data directory of its own
    worker_b["worker"] = start_worker_b(base, chroma, corpus, "worker-b-again")
    assert "23 Dörfer" in ask(worker_b["worker"].client(), RUFBUS)[0]


def test_chroma_killed_mid_ingest_then_restarted(
        worker_a: Any, worker_b: dict[str, Worker], base: Path, chroma: ChromaServer,
        corpus: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGKILL to Chroma while a batch is half written: the ingest stops with one line,
    the chat says the index is unreachable, a worker started meanwhile comes up anyway,
    everything answers again once Chroma is back, and the re-run completes the index
    with every chunk exactly once."""
    from ingest.pipeline import Ingestor
    from rag.errors import IndexUnavailableError
    from rag.providers.vectorstore import DataDir
    from ui.app import build_app

    for copy in (1, 2, 3):
        for name in SUBSET:
            target = corpus / f"kopie-{copy}" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text((CORPUS / name).read_text(encoding="utf-8")
                              + f"\n\nKopie {copy}.\n", encoding="utf-8")
    # one document per batch; Chroma dies when the third batch's chunks are in and its
    # docstore entries are not: the next run must find and replace those chunks
    from llama_index.vector_stores.chroma import ChromaVectorStore

    settings = server_settings(base, chroma, corpus, "worker-a", ingest_batch_characters=1000)
    calls = {"n": 0}
    original = ChromaVectorStore.add

    def add_then_kill(self: Any, nodes: Any, **kwargs: Any) -> Any:
        written = original(self, nodes, **kwargs)
        calls["n"] += 1
        if calls["n"] == 3:
            chroma.kill()
        return written

    monkeypatch.setattr(ChromaVectorStore, "add", add_then_kill)
    with pytest.raises(IndexUnavailableError) as stopped:
        Ingestor(settings, embedder, DataDir(settings)).run([corpus], prune=True)
    monkeypatch.undo()
    assert calls["n"] == 3
    message = str(stopped.value)
    assert "not reachable" in message and "Run the ingest again" in message
    assert "\n" not in message

    # while it is down: the running worker says so in German, and a worker started now
    # comes up and says the same
    client_b = worker_b["worker"].client()
    with pytest.raises(Exception, match="nicht erreichbar"):
        ask(client_b, SCHARRENBACH)
    late: Any = build_app(server_settings(base, chroma, corpus, "worker-late"),
                          assistant_factory=factory_with(embedder))
    with pytest.raises(Exception, match="nicht erreichbar"):
        late.chat.frage(SCHARRENBACH)
    banner = [fn for fn in late.blocks.fns.values() if fn.name == "<lambda>"]
    assert any("nicht erreichbar" in fn.fn() for fn in banner)
    kora_env = kora_environment(chroma_url=chroma.url, data_dir=str(base / "cli-host"))
    status = kora("status", "--json", env=kora_env)
    assert status.returncode == 1 and "Traceback" not in status.stderr
    assert status.stderr.count("\n") == 1 and "KORA_CHROMA_URL" in status.stderr

    chroma.start()
    for asked in (lambda: ask(client_b, SCHARRENBACH)[0],
                  lambda: late.chat.frage(SCHARRENBACH)[0]):
        assert "Scharrenbach" in wait_until(asked, seconds=90, what="answering again")
    late.shared.close()
    late.feedback.close()

    # the killed batch: journalled, its chunks in Chroma, its file not recorded
    index = DataDir(settings).open_current()
    try:
        (cut_off,) = index.pending()
        assert cut_off not in index.file_states()
        assert any(cid.startswith(f"{cut_off}#") for ids, _, _ in index.chunk_pages(1000)
                   for cid in ids)
    finally:
        index.close()
    report = Ingestor(settings, embedder, DataDir(settings)).run([corpus], prune=True)
    assert report.failed == []
    index = DataDir(settings).open_current()
    try:
        stored = {cid: text for ids, texts, _ in index.chunk_pages(1000)
                  for cid, text in zip(ids, texts, strict=True)}
        assert index.pending() == []
        files = sorted(p.relative_to(corpus).as_posix() for p in corpus.rglob("*.md"))
        assert sorted(index.file_states()) == files
    finally:
        index.close()
    assert stored == expected_chunks(corpus, files, settings, embedder)


def expected_chunks(corpus: Path, files: list[str], settings: Any,
                    embedder: Any) -> dict[str, str]:
    """Chunk id -> text that an index of ``files`` must hold, made without the pipeline."""
    from ingest.chunking import chunk_document
    from ingest.readers import read_file

    expected = {}
    for doc_id in files:
        chunks = chunk_document(read_file(corpus / doc_id, max_bytes=10**8),
                                count_tokens=embedder.count_tokens,
                                max_tokens=min(settings.chunk_tokens, embedder.max_tokens),
                                overlap_tokens=settings.chunk_overlap_tokens)
        expected.update({f"{doc_id}#{n}": chunk.text for n, chunk in enumerate(chunks)})
    return expected


def test_unreachable_server_is_one_line_for_every_command(base: Path) -> None:
    env = kora_environment(chroma_url=f"http://127.0.0.1:{free_port()}",
                           data_dir=str(base / "nowhere"), llm="none")
    for command in (["ask", SCHARRENBACH], ["search", "Solarpflicht"], ["status"],
                    ["ingest", str(CORPUS / SUBSET[0])]):
        result = kora(*command, env=env)
        assert result.returncode == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr
        line = result.stderr.strip()
        assert "\n" not in line, (command, line)
        assert line.startswith("kora: error: The Chroma server at http://127.0.0.1:")
        assert "not reachable" in line and "KORA_CHROMA_URL" in line


def test_token_for_a_server_behind_an_authenticating_proxy(
        worker_b: dict[str, Worker], base: Path, chroma: ChromaServer) -> None:
    proxy = TokenProxy(chroma.url, token="s3cret-Token_1")
    try:
        env = kora_environment(chroma_url=proxy.url, data_dir=str(base / "via-proxy"))
        missing = kora("status", "--json", env=env)
        assert missing.returncode == 1
        assert "requires authentication" in missing.stderr
        assert "KORA_CHROMA_TOKEN" in missing.stderr

        wrong = kora("status", "--json", env={**env, "KORA_CHROMA_TOKEN": "falsch"})
        assert wrong.returncode == 1 and "refused KORA's token" in wrong.stderr
        assert "falsch" not in wrong.stderr

        right = {**env, "KORA_CHROMA_TOKEN": "s3cret-Token_1"}
        status = kora("status", "--json", env=right)
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["chunks"] > 0

        shown = kora("config", "--json", env=right)
        assert json.loads(shown.stdout)["chroma_token"] == "***"
        assert "s3cret" not in shown.stdout
        assert "s3cret" not in kora("config", env=right).stdout
    finally:
        proxy.close()
    assert httpx.get(f"{chroma.url}/api/v2/heartbeat").status_code == 200
