"""The real Gradio app on loopback, driven through gradio_client, plus its pure parts."""

from __future__ import annotations

import csv
import io
import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CORPUS

pytestmark = pytest.mark.slow

SCHARRENBACH = "Wer hat die URBAN.KI-Jahrestagung 2025 eröffnet?"
HUNDESTEUER = "Wie hoch ist die Hundesteuer in Bochum?"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def indexed_settings(base: Path, embedder: Any) -> Any:
    """Settings over a fresh, indexed copy of the shipped corpus (llm none)."""
    from ingest.pipeline import Ingestor
    from rag.settings import Settings
    from rag.store import DataDir

    corpus = base / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = Settings.load(data_dir=base / "data", corpus_dir=corpus, llm="none")
    Ingestor(settings, embedder, DataDir(settings)).run([corpus])
    return settings


def factory_with(embedder: Any) -> Any:
    from rag.assistant import Assistant

    def open_assistant(settings: Any, data_dir: Any, shared: Any) -> Any:
        return Assistant.open(settings, data_dir=data_dir, embedder=shared or embedder)

    return open_assistant


@pytest.fixture(scope="module")
def running_app(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[Any]:
    from ui.app import build_app, launch_options

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("KORA_ADMIN_PASSWORD", raising=False)
        settings = indexed_settings(tmp_path_factory.mktemp("app"), embedder)
        demo: Any = build_app(settings, assistant_factory=factory_with(embedder))
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port,
                quiet=True, **launch_options())
    demo.kora_settings = settings
    demo.kora_url = f"http://127.0.0.1:{port}/"
    yield demo
    demo.close()


@pytest.fixture(scope="module")
def client(running_app: Any) -> Any:
    from gradio_client import Client

    return Client(running_app.kora_url, verbose=False)


def test_question_is_answered_with_citation(client: Any) -> None:
    answer, sources, mode = client.predict(SCHARRENBACH, "alle", api_name="/frage")
    assert "Scharrenbach" in answer
    assert "[1]" in answer
    assert mode == "extraktiv"
    assert 'id="quelle-1"' in sources
    assert "<mark>" in sources and "Scharrenbach" in sources
    assert "konferenzen/jahrestagung-2025.md" in sources


def test_admin_tab_without_password_explains_how_to_enable(running_app: Any) -> None:
    shown = json.dumps(running_app.config, ensure_ascii=False, default=str)
    assert "Verwaltung nicht aktiviert" in shown and "KORA_ADMIN_PASSWORD" in shown
    assert "kora-passwort" not in shown  # no login form without a password


def test_type_filter_limits_sources(client: Any) -> None:
    _, sources, _ = client.predict(SCHARRENBACH, "prototyp", api_name="/frage")
    assert "konferenzbericht" not in sources


def test_out_of_scope_question_is_refused(client: Any) -> None:
    answer, sources, mode = client.predict(HUNDESTEUER, "alle", api_name="/frage")
    assert answer.startswith("Dazu steht nichts in den Dokumenten")
    assert mode == "nicht in den Dokumenten"
    assert "Keine Quelle beantwortet diese Frage" in sources
    assert "<details" not in sources


def test_admin_upload_refused_without_login(running_app: Any, tmp_path: Path) -> None:
    document = tmp_path / "neu.md"
    document.write_text("# Neu\n\nEin neues Dokument über Parkbänke.", encoding="utf-8")
    uploads = running_app.kora_settings.corpus_dir / "uploads"
    handlers = running_app.kora_handlers
    # the admin area is off (no password): even a session flag set to True is refused
    for session in (False, True, None):
        assert "Nicht angemeldet" in handlers["upload"]([str(document)], session)
        assert "Nicht angemeldet" in handlers["reindex"](session)
        assert "Nicht angemeldet" in handlers["delete"]("konferenzen/jahrestagung-2025.md",
                                                        True, session)
        assert handlers["export"](session)[0] is None
    assert not uploads.exists()
    assert (running_app.kora_settings.corpus_dir / "konferenzen/jahrestagung-2025.md").exists()


def test_admin_handlers_check_login_against_password(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, embedder: Any) -> None:
    """With a password set, only a session flagged by login may upload."""
    from rag.settings import Settings
    from ui.app import build_app

    monkeypatch.setenv("KORA_ADMIN_PASSWORD", "richtig")

    class Stub:  # upload needs no index: a second real one would only cost time
        retriever = type("R", (), {"embedder": embedder})()
        answerer = type("A", (), {"llm": None})()  # the mode badge asks for the LLM

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    settings = Settings.load(data_dir=tmp_path / "data", corpus_dir=corpus, llm="none")
    demo: Any = build_app(settings, assistant_factory=lambda *_: Stub())  # type: ignore[arg-type]
    document = tmp_path / "baum.md"
    document.write_text("# Bäume\n\nDer Kreis pflanzt Bäume im Stadtpark.", encoding="utf-8")
    upload = demo.kora_handlers["upload"]
    assert "Nicht angemeldet" in upload([str(document)], False)
    assert not (corpus / "uploads").exists()
    assert "Gespeichert: baum.md" in upload([str(document)], True)
    assert (corpus / "uploads" / "baum.md").read_text(encoding="utf-8").startswith("# Bäume")
    demo.kora_feedback.close()


@pytest.mark.parametrize("name, expected", [
    ("bericht.md", "bericht.md"),
    ("Straßen Übersicht 2025.pdf", "Straßen Übersicht 2025.pdf"),
    ("bö$e<name>;rm -rf.txt", "bö_e_name__rm -rf.txt"),
    (".versteckt.md", "versteckt.md"),
    ("-rf.md", "rf.md"),
])
def test_safe_file_name_normalises(name: str, expected: str) -> None:
    from ui.admin import safe_file_name

    assert safe_file_name(name) == expected


@pytest.mark.parametrize("name", [
    "../etc/passwd.md", "..", "a..b.md", "/etc/passwd", "ordner/datei.md",
    "C:\\Windows\\system.ini", "..\\boot.md", "", "keine-endung", "....md", "a\x00.md",
])
def test_safe_file_name_refuses_paths(name: str) -> None:
    from ui.admin import UnsafeNameError, safe_file_name

    with pytest.raises(UnsafeNameError):
        safe_file_name(name)


def test_save_uploads_refuses_bad_files(tmp_path: Path) -> None:
    from ui.admin import save_uploads

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (tmp_path / "in").mkdir()
    empty = tmp_path / "in" / "leer.md"
    empty.write_bytes(b"")
    program = tmp_path / "in" / "programm.exe"
    program.write_bytes(b"MZ")
    big = tmp_path / "in" / "gross.txt"
    big.write_text("x" * 3000, encoding="utf-8")
    good = tmp_path / "in" / "gut.txt"
    good.write_text("Ein gültiger Text über Radwege in der Stadt.", encoding="utf-8")
    messages = save_uploads([str(empty), str(program), str(good)], corpus_dir=corpus,
                            max_file_mb=1)
    assert messages[0].startswith("Abgelehnt: leer.md") and "empty" in messages[0]
    assert messages[1].startswith("Abgelehnt: programm.exe") and "nicht unterstützt" in messages[1]
    assert messages[2].startswith("Gespeichert: gut.txt")
    assert save_uploads([str(big)], corpus_dir=corpus, max_file_mb=0.001)[0].startswith(
        "Abgelehnt: gross.txt")
    kept = sorted(p.name for p in (corpus / "uploads").iterdir())
    assert kept == ["gut.txt"]  # no rejected file and no staging leftovers


def test_feedback_round_trip_and_csv(tmp_path: Path) -> None:
    from ui.feedback import FeedbackStore

    store = FeedbackStore.in_data_dir(tmp_path / "data")
    store.add(rating=1, question="Wer eröffnete?", answer="Ina Scharrenbach [1]",
              sources=[{"n": 1, "doc_id": "konferenzen/jahrestagung-2025.md"}],
              comment="sehr gut, \"genau\"")
    store.add(rating=-1, question="Hundesteuer?", answer="Dazu steht nichts", sources=[])
    with pytest.raises(ValueError):
        store.add(rating=5, question="q", answer="a", sources=[])
    store.close()
    reopened = FeedbackStore(tmp_path / "data" / "feedback.sqlite")
    rows = list(csv.DictReader(io.StringIO(reopened.export_csv())))
    assert [row["rating"] for row in rows] == ["1", "-1"]
    assert rows[0]["comment"] == 'sehr gut, "genau"'
    assert rows[0]["question"] == "Wer eröffnete?"
    assert json.loads(rows[0]["sources"])[0]["doc_id"] == "konferenzen/jahrestagung-2025.md"
    assert rows[1]["comment"] == "" and rows[0]["created_at"]


def test_hostile_answer_text_is_neutralised() -> None:
    from rag.answer import Answer, Citation
    from rag.citations import CheckedSentence
    from ui.app import render_answer, render_sources

    text = ('Siehe <script>alert(1)</script> und ![x](http://example.com/x.png) '
            '<img src=x onerror="alert(1)"> [1] Erfunden. [nicht belegt]')
    citation = Citation(n=1, doc_id="a.md", title="<b>Titel</b>", source="", location="",
                        date="2025", type="dokument", text=text, score=1.0, start=0,
                        end=len(text))
    answer = Answer(question="q", standalone_question="q", answer=text, refused=False,
                    mode="llm", llm="test-llm", citations=[citation],
                    sentences=[CheckedSentence(text="Erfunden.", citations=[], supported=False,
                                               lexical=0.0, semantic=None)])
    chat = render_answer(answer)
    assert "<script" not in chat and "<img" not in chat and "![" not in chat
    assert "](" not in chat
    assert '<a href="#quelle-1">' in chat
    assert 'class="nicht-belegt"' in chat and "nicht belegt" in chat
    panel = render_sources(answer)
    assert "<script" not in panel and "<img" not in panel and "<b>" not in panel
    assert "&lt;script&gt;" in panel
    assert 'class="nicht-belegt"' in panel


def test_serve_command_defaults_to_loopback() -> None:
    from ui.cli import build_parser

    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port) == ("127.0.0.1", 7860)
    assert build_parser().parse_args(["serve", "--port", "9000"]).port == 9000
