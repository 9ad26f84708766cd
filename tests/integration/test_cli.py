"""The `kora` command line as scripts use it: JSON contract, exit codes, SIGKILL recovery."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import CORPUS

pytestmark = pytest.mark.slow

INGEST_KEYS = {"added", "updated", "unchanged", "removed", "failed", "chunks", "seconds",
               # as of when and versions (issue 20): extensions of the contract
               "undated", "replaced", "restored"}
SHIPPED_FILES = sum(1 for path in CORPUS.rglob("*") if path.is_file())


def kora(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ui.cli", *args],
        capture_output=True, text=True, env=env, timeout=timeout, check=False,
    )


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KORA_")}
    env["KORA_DATA_DIR"] = str(tmp_path / "data")
    env["KORA_CONFIG"] = str(tmp_path / "kora.toml")
    env["PYTHONPATH"] = str(CORPUS.parent)
    return env


def test_ingest_status_search_contract(cli_env: dict[str, str], corpus_copy: Path) -> None:
    first = kora("ingest", str(corpus_copy), "--json", env=cli_env)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert set(report) == INGEST_KEYS
    assert report["added"] >= 14 and report["failed"] == [] and report["chunks"] > 0

    second = json.loads(kora("ingest", str(corpus_copy), "--json", env=cli_env).stdout)
    assert second["unchanged"] == report["added"]
    assert second["added"] == second["updated"] == second["chunks"] == 0

    status = kora("status", "--json", env=cli_env)
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["documents"] == report["added"]
    assert data["chunks"] == report["chunks"]
    assert data["embedding_model"] == "bundled:multilingual-e5-small"
    assert data["embedding_dimension"] == 384
    assert "hint" not in data
    assert data["last_ingest"]["unchanged"] == report["added"]
    assert data["keyword_index_chunks"] == report["chunks"]

    search = kora("search", "Drohnenbilder versiegelte Flächen Recklinghausen", "--json",
                  "--top-k", "3", env=cli_env)
    assert search.returncode == 0, search.stderr
    passages = json.loads(search.stdout)["passages"]
    assert len(passages) == 3
    assert passages[0]["doc_id"] == "prototypen/recklinghausen-versiegelung.md"
    assert {"doc_id", "title", "location", "date", "text", "score"} <= set(passages[0])

    bm25 = json.loads(kora("search", "Solarpflicht", "--json", "--retriever", "bm25",
                           "--type", "prototyp", env=cli_env).stdout)
    assert bm25["retriever"] == "bm25"
    assert bm25["passages"][0]["doc_id"] == "prototypen/herten-solarpflicht.md"

    cli_env["KORA_LLM"] = "none"
    ask = kora("ask", "Wer hat die URBAN.KI-Jahrestagung 2025 eröffnet?", "--json", env=cli_env)
    assert ask.returncode == 0, ask.stderr
    answer = json.loads(ask.stdout)
    assert answer["refused"] is False and answer["mode"] == "extractive"
    assert "Scharrenbach" in answer["answer"] and "[1]" in answer["answer"]
    first = answer["citations"][0]
    assert first["n"] == 1 and first["doc_id"] == "konferenzen/jahrestagung-2025.md"
    assert first["title"] and first["location"] and first["date"] == "2025-11-28"

    refused = json.loads(kora("ask", "Wie hoch ist die Hundesteuer in Bochum?", "--json",
                              env=cli_env).stdout)
    assert refused["refused"] is True and refused["citations"] == []
    assert "nichts in den Dokumenten" in refused["answer"]

    unreachable = kora("ask", "Was ist AIMOS?", "--llm", "ollama",
                       env={**cli_env, "KORA_OLLAMA_URL": f"http://127.0.0.1:{_closed_port()}"})
    assert unreachable.returncode == 1
    assert "Traceback" not in unreachable.stderr
    assert unreachable.stderr.strip().count("\n") == 0 and "ollama" in unreachable.stderr.lower()


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_exit_codes_and_one_line_errors(cli_env: dict[str, str], tmp_path: Path) -> None:
    missing = kora("ingest", str(tmp_path / "gibt-es-nicht"), "--json", env=cli_env)
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0 and "Path not found" in missing.stderr

    no_index = kora("search", "Rufbus", env=cli_env)
    assert no_index.returncode == 1
    assert "run `kora ingest`" in no_index.stderr and "Traceback" not in no_index.stderr

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "ok.md").write_text("# Gut\n\nDer Bauhof plant neue Routen.\n", encoding="utf-8")
    (bad / "leer.txt").write_bytes(b"")
    (bad / "daten.bin").write_bytes(b"\x00\x01\x02")
    result = kora("ingest", str(bad), "--json", env=cli_env)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert sorted(Path(f["path"]).name for f in report["failed"]) == ["daten.bin", "leer.txt"]
    assert report["added"] == 1

    plain = kora("ingest", str(bad), env=cli_env)
    assert plain.returncode == 1
    assert "leer.txt" in plain.stderr and "daten.bin" in plain.stderr

    usage = kora("ingest", "--no-such-flag", env=cli_env)
    assert usage.returncode == 2

    wrong_model = kora("search", "Rufbus", "--embedding-model", str(tmp_path), env=cli_env)
    assert wrong_model.returncode == 1
    assert "kora ingest --rebuild" in wrong_model.stderr


def test_index_of_another_model_asks_for_a_rebuild(cli_env: dict[str, str], tmp_path: Path) -> None:
    """An index built with the English MiniLM (KORA's earlier default) keeps working only
    after `kora ingest --rebuild`; until then every command says so in one line."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "rufbus.md").write_text("# Rufbus\n\nDer Rufbus fährt in Kötzting seit 2024 "
                                    "auf Bestellung per App.\n", encoding="utf-8")
    old = kora("ingest", str(docs), "--json", "--embedding-model", "bundled:all-MiniLM-L6-v2",
               env=cli_env)
    assert old.returncode == 0, old.stderr

    status = json.loads(kora("status", "--json", env=cli_env).stdout)
    assert status["embedding_model"] == "bundled:all-MiniLM-L6-v2"
    assert status["configured_embedding_model"] == "bundled:multilingual-e5-small"
    assert "kora ingest --rebuild" in status["hint"]

    for command in (["ask", "Seit wann fährt der Rufbus?"], ["search", "Rufbus"],
                    ["ingest", str(docs)]):
        refused = kora(*command, env=cli_env)
        assert refused.returncode == 1, command
        assert "kora ingest --rebuild" in refused.stderr and "Traceback" not in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1

    rebuilt = kora("ingest", str(docs), "--rebuild", "--json", env=cli_env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    status = json.loads(kora("status", "--json", env=cli_env).stdout)
    assert status["embedding_model"] == "bundled:multilingual-e5-small"
    assert "hint" not in status
    answer = json.loads(kora("ask", "Seit wann fährt der Rufbus?", "--json", env=cli_env).stdout)
    assert not answer["refused"] and "2024" in answer["answer"]


def test_config_shows_effective_settings_with_sources(cli_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "kora.toml").write_text('top_k = 7\nchunk_tokens = 180\n', encoding="utf-8")
    cli_env["KORA_CHUNK_TOKENS"] = "150"
    result = kora("config", "--json", "--data-dir", str(tmp_path / "flag-dir"), env=cli_env)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["top_k"] == 7  # from kora.toml
    assert config["chunk_tokens"] == 150  # environment beats kora.toml
    assert config["data_dir"] == str(tmp_path / "flag-dir")  # flag beats environment
    described = kora("config", env=cli_env).stdout
    assert "# Largest chunk in model tokens" in described


def _recorded_documents(data_dir: Path) -> int:
    """Documents whose batch is committed, read from the docstore while ingest runs."""
    for database in data_dir.glob("docstore-*.sqlite"):
        try:
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as conn:
                return int(conn.execute(
                    "SELECT count(*) FROM kv WHERE collection = 'kora/files'").fetchone()[0])
        except sqlite3.Error:
            return 0
    return 0


def _big_corpus(tmp_path: Path, copies: int) -> Path:
    root = tmp_path / "big"
    for number in range(copies):
        shutil.copytree(CORPUS, root / f"kopie-{number}")
    return root


def _ids_and_texts(data_dir: Path) -> dict[str, str]:
    from rag.providers.vectorstore import DataDir
    from rag.settings import Settings

    index = DataDir(Settings.load(data_dir=data_dir)).open_current()
    contents = {chunk_id: text for page in index.chunk_pages()
                for chunk_id, text in zip(page.ids, page.texts, strict=True)}
    index.close()
    return contents


def test_sigkill_mid_ingest_then_rerun_equals_clean_ingest(cli_env: dict[str, str], tmp_path: Path) -> None:
    corpus = _big_corpus(tmp_path, copies=6)
    # several batches, so that the kill lands between two of them
    cli_env["KORA_INGEST_BATCH_CHARACTERS"] = "60000"
    data_dir = Path(cli_env["KORA_DATA_DIR"])
    process = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "ingest", str(corpus), "--json"],
        env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while _recorded_documents(data_dir) == 0 and process.poll() is None:
        assert time.monotonic() < deadline, "ingest recorded nothing in time"
        time.sleep(0.05)
    assert process.poll() is None, "ingest finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    recorded = _recorded_documents(data_dir)
    assert 0 < recorded < SHIPPED_FILES * 6

    # the interrupted index is still queryable
    search = kora("search", "Rufbus Bedarfsprognose", "--json", env=cli_env)
    assert search.returncode == 0, search.stderr

    resumed = kora("ingest", str(corpus), "--json", env=cli_env)
    assert resumed.returncode == 0, resumed.stderr
    resumed_report = json.loads(resumed.stdout)
    assert resumed_report["unchanged"] + resumed_report["added"] == SHIPPED_FILES * 6

    clean_env = {**cli_env, "KORA_DATA_DIR": str(tmp_path / "clean")}
    clean = kora("ingest", str(corpus), "--json", env=clean_env)
    assert clean.returncode == 0, clean.stderr

    after_kill = _ids_and_texts(data_dir)
    reference = _ids_and_texts(tmp_path / "clean")
    assert len(after_kill) == len(reference) == json.loads(clean.stdout)["chunks"]
    assert after_kill == reference
    status = json.loads(kora("status", "--json", env=cli_env).stdout)
    assert status["keyword_index_chunks"] == len(reference)
