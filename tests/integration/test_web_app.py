"""The real Gradio app on loopback, driven through gradio_client, plus its pure parts."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IndexedCopy
from tests.webapp import SCHARRENBACH, factory_with, start_app

pytestmark = pytest.mark.slow

HUNDESTEUER = "Wie hoch ist die Hundesteuer in Bochum?"


@pytest.fixture(scope="module")
def running_app(tmp_path_factory: pytest.TempPathFactory, embedder: Any,
                indexed_copy: IndexedCopy) -> Iterator[Any]:
    from ui.app import build_app

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("KORA_ADMIN_PASSWORD", raising=False)
        settings = indexed_copy(tmp_path_factory.mktemp("app"))
        demo: Any = build_app(settings, assistant_factory=factory_with(embedder))
    yield start_app(demo, settings)
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


def test_admin_tab_without_account_explains_how_to_enable(running_app: Any) -> None:
    shown = json.dumps(running_app.blocks.config, ensure_ascii=False, default=str)
    assert "Verwaltung nicht aktiviert" in shown and "kora admin add NAME" in shown
    assert "KORA_ADMIN_PASSWORD" in shown  # the legacy way is still explained


def test_questions_as_bad_input_through_the_api(client: Any) -> None:
    long = SCHARRENBACH + " " + "Jahrestagung " * 1600  # 20,000+ characters
    answer, _, _ = client.predict(long, "alle", api_name="/frage")
    assert "Hinweis: Die Frage war 20.8" in answer and "ersten 9" in answer
    typed = "Wer\x00 hat\x1b[31m die\u202e URBAN.KI-Jahrestagung\t2025 eröffnet?\x07"
    answer, sources, _ = client.predict(typed, "alle", api_name="/frage")
    assert "Scharrenbach" in answer and "<mark>" in sources
    answer, sources, _ = client.predict("<img src=x onerror=alert(1)> **Wer** hat die "
                                        "URBAN.KI-Jahrestagung 2025 eröffnet?", "alle",
                                        api_name="/frage")
    assert "<img" not in sources and "onerror" not in answer
    for empty in ("", "   \t", "\x00\u200b"):
        with pytest.raises(Exception, match="Bitte geben Sie eine Frage ein"):
            client.predict(empty, "alle", api_name="/frage")


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
    uploads = running_app.settings.corpus_dir / "uploads"
    admin = running_app.admin
    # no account exists: whatever a session holds, every admin action is refused
    for token in (None, True, "erfunden", "x" * 43):
        assert "Nicht angemeldet" in admin.upload([str(document)], token, None)
        assert "Nicht angemeldet" in admin.reindex(token, None)
        assert "Nicht angemeldet" in admin.delete("konferenzen/jahrestagung-2025.md",
                                                  True, token, None)
        assert admin.export(token, None)[0] is None
        assert admin.audit_rows(token, None) == ([], "")
    assert admin.login("", "", None)[0] is None
    assert not uploads.exists()
    assert (running_app.settings.corpus_dir / "konferenzen/jahrestagung-2025.md").exists()


class StubAssistant:
    """Stands in where an admin test needs no index: a second real one only costs time."""

    def __init__(self, embedder: Any) -> None:
        self.retriever = type("R", (), {"embedder": embedder})()
        self.answerer = type("A", (), {"llm": None})()  # the mode badge asks for the LLM

    def close(self) -> None:
        pass


class CountedClose:
    """An Assistant that only counts how often it is closed."""

    def __init__(self) -> None:
        self.closed = 0
        self.answerer = type("A", (), {"llm": None})()

    def reopen(self, settings: Any, data_dir: Any) -> CountedClose:
        return CountedClose()

    def close(self) -> None:
        self.closed += 1


def test_a_replaced_assistant_is_closed_once_its_last_question_ends(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from rag.settings import Settings
    from ui.shared_assistant import SharedAssistant

    settings = Settings.load(data_dir=tmp_path / "data", corpus_dir=tmp_path, llm="none")
    first = CountedClose()
    data_dir: Any = SimpleNamespace(location="test")  # a replaced stub has no files to remove
    factory: Any = lambda *_: first  # noqa: E731
    shared = SharedAssistant(settings, data_dir, factory, watch=False)
    with shared.use() as answering:
        assert answering is first
        shared.reload(force=True)  # a re-index while a question runs on the first
        second: Any = shared.get()
        assert second is not first and first.closed == 0
    assert first.closed == 1
    shared.reload(force=True)  # nobody asks the second: closed at the swap
    assert second.closed == 1
    third: Any = shared.get()
    shared.close()
    assert third.closed == 1
    assert first.closed == 1


def test_only_a_kora_error_speaks_to_the_user(caplog: pytest.LogCaptureFixture) -> None:
    from rag.errors import LLMUnavailableError
    from ui import strings as S
    from ui.failures import answer_failure

    shown = answer_failure(LLMUnavailableError("Ollama antwortet nicht.\nzweite Zeile"))
    assert shown == S.ANSWER_FAILED.format(error="Ollama antwortet nicht.")
    with caplog.at_level(logging.ERROR):
        shown = answer_failure(RuntimeError("database /srv/kora/geheim.db is locked"))
    assert shown == S.ANSWER_FAILED.format(error=S.UNEXPECTED_ERROR)
    assert "geheim.db" in caplog.text  # the details are for the operator


def stub_app(tmp_path: Path, embedder: Any, **overrides: Any) -> Any:
    from rag.settings import Settings
    from ui.app import build_app

    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    settings = Settings.load(data_dir=tmp_path / "data", corpus_dir=corpus, llm="none",
                             **overrides)
    demo: Any = build_app(settings, assistant_factory=lambda *_: StubAssistant(embedder))  # type: ignore[arg-type]
    return demo


def test_admin_handlers_check_login_against_env_password(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, embedder: Any) -> None:
    """With only KORA_ADMIN_PASSWORD, a session may upload only after a correct login."""
    monkeypatch.setenv("KORA_ADMIN_PASSWORD", "richtig")
    demo = stub_app(tmp_path, embedder)
    corpus = demo.settings.corpus_dir
    document = tmp_path / "baum.md"
    document.write_text("# Bäume\n\nDer Kreis pflanzt Bäume im Stadtpark.", encoding="utf-8")
    assert "Nicht angemeldet" in demo.admin.upload([str(document)], None, None)
    token, status, _ = demo.admin.login("", "falsch", None)
    assert token is None and "fehlgeschlagen" in status
    assert not (corpus / "uploads").exists()
    token, status, _ = demo.admin.login("", "richtig", None)
    assert token and "gemeinsamen Passwort" in status
    assert "Gespeichert: baum.md" in demo.admin.upload([str(document)], token, None)
    assert (corpus / "uploads" / "baum.md").read_text(encoding="utf-8").startswith("# Bäume")
    assert demo.admin.logout(token, None) == (None, "Abgemeldet.")
    assert "Nicht angemeldet" in demo.admin.upload([str(document)], token, None)
    actions = [(e["account"], e["action"], e["outcome"])
               for e in demo.gate.audit.entries()]
    assert actions == [("env:KORA_ADMIN_PASSWORD", "login", "failed"),
                       ("env:KORA_ADMIN_PASSWORD", "login", "ok"),
                       ("env:KORA_ADMIN_PASSWORD", "upload", "ok"),
                       ("env:KORA_ADMIN_PASSWORD", "logout", "ok")]
    demo.feedback.close()


@pytest.mark.parametrize("name, expected", [
    ("bericht.md", "bericht.md"),
    ("Straßen Übersicht 2025.pdf", "Straßen Übersicht 2025.pdf"),
    ("bö$e<name>;rm -rf.txt", "bö_e_name__rm -rf.txt"),
    (".versteckt.md", "versteckt.md"),
    ("-rf.md", "rf.md"),
])
def test_safe_file_name_normalises(name: str, expected: str) -> None:
    from people import safe_file_name

    assert safe_file_name(name) == expected


@pytest.mark.parametrize("name", [
    "../etc/passwd.md", "..", "a..b.md", "/etc/passwd", "ordner/datei.md",
    "C:\\Windows\\system.ini", "..\\boot.md", "", "keine-endung", "....md", "a\x00.md",
])
def test_safe_file_name_refuses_paths(name: str) -> None:
    from people import UnsafeNameError, safe_file_name

    with pytest.raises(UnsafeNameError):
        safe_file_name(name)


def test_save_uploads_refuses_bad_files(tmp_path: Path) -> None:
    from people import save_uploads
    from ui.admin import upload_message

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
    outcomes = save_uploads([str(empty), str(program), str(good)], corpus_dir=corpus,
                            max_file_mb=1)
    assert [o.refusal for o in outcomes] == ["unreadable", "type", None]
    assert outcomes[2].doc_id == "uploads/gut.txt" and outcomes[2].sha256
    messages = [upload_message(o) for o in outcomes]
    assert messages[0].startswith("Abgelehnt: leer.md") and "empty" in messages[0]
    assert messages[1].startswith("Abgelehnt: programm.exe") and "nicht unterstützt" in messages[1]
    assert messages[2].startswith("Gespeichert: gut.txt")
    too_big = save_uploads([str(big)], corpus_dir=corpus, max_file_mb=0.001)[0]
    assert (too_big.refusal, too_big.detail) == ("size", "0.001")
    assert upload_message(too_big) == "Abgelehnt: gross.txt – Datei größer als 0.001 MB"
    kept = sorted(p.name for p in (corpus / "uploads").iterdir())
    assert kept == ["gut.txt"]  # no rejected file and no staging leftovers


def test_feedback_round_trip_and_csv(tmp_path: Path) -> None:
    from people import People
    from rag.settings import Settings

    store = People.open(Settings.load(data_dir=tmp_path / "data")).feedback
    store.add(rating=1, question="Wer eröffnete?", answer="Ina Scharrenbach [1]",
              sources=[{"n": 1, "doc_id": "konferenzen/jahrestagung-2025.md"}],
              comment="sehr gut, \"genau\"")
    store.add(rating=-1, question="Hundesteuer?", answer="Dazu steht nichts", sources=[])
    with pytest.raises(ValueError):
        store.add(rating=5, question="q", answer="a", sources=[])
    store.database.close()
    reopened = People.open(Settings.load(data_dir=tmp_path / "data")).feedback
    rows = list(csv.DictReader(io.StringIO(reopened.export_csv()[0])))
    assert [row["rating"] for row in rows] == ["1", "-1"]
    assert rows[0]["comment"] == 'sehr gut, "genau"'
    assert rows[0]["question"] == "Wer eröffnete?"
    assert json.loads(rows[0]["sources"])[0]["doc_id"] == "konferenzen/jahrestagung-2025.md"
    assert rows[1]["comment"] == "" and rows[0]["created_at"]


def test_hostile_answer_text_is_neutralised() -> None:
    from rag.answering import Answer, AnswerMode
    from rag.answering.results import CheckedSentence, Citation
    from rag.passage import Passage
    from ui.render import render_answer, render_sources

    text = ('Siehe <script>alert(1)</script> und ![x](http://example.com/x.png) '
            '<img src=x onerror="alert(1)"> [1] Erfunden. [nicht belegt]')
    citation = Citation(n=1, passage=Passage(
        chunk_id="a.md#0", doc_id="a.md", title="<b>Titel</b>", source="", location="",
        date="2025", type="dokument", text=text, start=0, end=len(text), score=1.0))
    answer = Answer(question="q", standalone_question="q", answer=text,
                    mode=AnswerMode.LLM, llm="test-llm", citations=[citation],
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


def test_a_server_stopped_with_sigterm_leaves_no_files_behind(
        tmp_path: Path, shipped_data: Path) -> None:
    """systemd stops `kora serve` with SIGTERM. The server ends as on Ctrl-C (exit 0): its
    export folder (where feedback and audit CSVs are written) and Gradio's copies of
    files it handed out or took in are removed, not left in the temporary folder."""
    import shutil
    import signal

    import httpx

    from tests.chroma_server import Worker, kora_environment

    temporary, cache = tmp_path / "tmp", tmp_path / "gradio"
    temporary.mkdir()
    shutil.copytree(shipped_data, tmp_path / "data")
    env = kora_environment(data_dir=str(tmp_path / "data"), corpus_dir=str(tmp_path / "leer"),
                           llm="none")
    env.update(TMPDIR=str(temporary), GRADIO_TEMP_DIR=str(cache))
    worker = Worker(env, tmp_path / "serve.log").wait_ready()
    try:
        [export_folder] = temporary.glob("kora-export-*")
        (export_folder / "kora-rueckmeldungen.csv").write_text("Zeit;Bewertung\n", "utf-8")
        upload = httpx.post(f"{worker.url}gradio_api/upload", timeout=30, files={
            "files": ("notiz.txt", "Rückmeldung mit Namen".encode(), "text/plain")})
        assert upload.status_code == 200, upload.text
        [cached] = [Path(path) for path in upload.json()]
        assert cached.is_file() and cached.is_relative_to(cache)
        worker.process.send_signal(signal.SIGTERM)
        assert worker.process.wait(timeout=60) == 0, worker.log.read_text()[-2000:]
    finally:
        worker.stop()
    assert not export_folder.exists()
    assert not cached.exists()
    assert "Traceback" not in worker.log.read_text()


def test_index_of_another_model_is_rebuilt_from_the_admin_area(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, embedder: Any) -> None:
    """An index built with the English MiniLM (an older KORA's default): the app starts,
    the page and every answer say a rebuild is needed, and the admin's re-index rebuilds
    it with the configured model, after which the chat answers."""
    import gradio as gr

    from ingest.pipeline import Ingestor
    from rag.providers.embedding import Embedder
    from rag.providers.vectorstore import DataDir
    from rag.settings import Settings
    from ui.app import build_app

    monkeypatch.setenv("KORA_ADMIN_PASSWORD", "richtig")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "rufbus.md").write_text(
        "# Rufbus\n\nDer Rufbus in Kötzting fährt seit 2024 auf Bestellung per App.\n",
        encoding="utf-8")
    old = Settings.load(data_dir=tmp_path / "data", corpus_dir=corpus, llm="none",
                        embedding_model="bundled:all-MiniLM-L6-v2")
    Ingestor(old, Embedder.load(old), DataDir(old)).run([corpus])

    settings = Settings.load(data_dir=tmp_path / "data", corpus_dir=corpus, llm="none")
    demo: Any = build_app(settings, assistant_factory=factory_with(embedder))
    banner = [fn for fn in demo.blocks.fns.values() if fn.name == "<lambda>"]
    assert any("neu aufbauen" in fn.fn() for fn in banner)
    with pytest.raises(gr.Error, match="anderen Einbettungsmodell"):
        demo.chat.frage("Seit wann fährt der Rufbus?")

    token, _, _ = demo.admin.login("", "richtig", None)
    report = demo.admin.reindex(token, None)
    assert "1" in report
    assert DataDir(settings).current().embedding_model == "bundled:multilingual-e5-small"
    assert all(fn.fn() == "" for fn in banner)
    answer, _, mode = demo.chat.frage("Seit wann fährt der Rufbus?")
    assert "2024" in answer and mode == "extraktiv"
    demo.feedback.close()
