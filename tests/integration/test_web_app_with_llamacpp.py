"""The web app answering through llama.cpp in-process (a tiny scripted GGUF model): the
chat's streaming path, the checked answer with its marks, the mode badge and the admin
area's LLM line, over the real Gradio server and in a real Chromium."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loopback import free_port, write_tiny_gguf
from tests.conftest import IndexedCopy
from tests.fakes import SCRIPT, corpus_words
from tests.webapp import SCHARRENBACH, factory_with

pytestmark = pytest.mark.slow

# a supported sentence without its citation, then one that no source supports
APP_SCRIPT = [*SCRIPT, "Sie", "lobte", "Windräder", "auf", "dem", "Mond", "!"]
BADGE = "Antwortmodus: llama.cpp kora-app · Kontext 4096 Tokens"


@pytest.fixture(scope="module")
def llm_app(tmp_path_factory: pytest.TempPathFactory, embedder: Any,
            indexed_copy: IndexedCopy) -> Iterator[Any]:
    from ui.app import build_app, launch_options

    base = tmp_path_factory.mktemp("llm-app")
    model = write_tiny_gguf(base / "kora-app.gguf", words=corpus_words(), script=APP_SCRIPT,
                            name="kora-app")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("KORA_ADMIN_PASSWORD", raising=False)
        settings = indexed_copy(base).model_copy(update={
            "llm": "llamacpp", "llm_model_path": model, "llm_temperature": 0.0,
            "llm_threads": 1})
        demo: Any = build_app(settings, assistant_factory=factory_with(embedder))
    port = free_port()
    demo.blocks.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port,
                       quiet=True, **launch_options())
    demo.kora_url = f"http://127.0.0.1:{port}/"
    yield demo
    demo.close()


def test_chat_streams_the_engines_pieces_then_the_checked_answer(llm_app: Any) -> None:
    from rag.answering import Answer
    from rag.retrieval import Filters
    from ui.handlers import stream_answer
    from ui.shared_assistant import SharedAssistant

    shared: SharedAssistant = llm_app.shared
    steps = list(stream_answer(shared, SCHARRENBACH, [], Filters()))
    texts, final = steps[:-1], steps[-1]

    assert isinstance(final, Answer) and all(isinstance(t, str) for t in texts)
    assert len(texts) >= len(APP_SCRIPT)  # one update per generated token
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(texts))
    assert texts[-1].strip() == (
        "Ina Scharrenbach eröffnete die Jahrestagung. Sie lobte Windräder auf dem Mond!")
    assert final.answer == ("Ina Scharrenbach eröffnete die Jahrestagung. [1] "
                            "Sie lobte Windräder auf dem Mond! [nicht belegt]")


def test_api_answer_carries_the_marks_and_the_model(llm_app: Any) -> None:
    from gradio_client import Client

    answer, sources, mode = Client(llm_app.kora_url, verbose=False).predict(
        SCHARRENBACH, "alle", api_name="/frage")
    assert answer.startswith("Ina Scharrenbach eröffnete die Jahrestagung. [1]")
    text, _, notice = answer.partition("\n\nHinweis: ")
    assert text.endswith("[nicht belegt]")
    assert "1 Satz/Sätze ohne Beleg" in notice  # the check's notice, after the answer
    assert mode == "llama.cpp kora-app"
    assert "Scharrenbach" in sources and "Sie lobte Windräder auf dem Mond!" in sources


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM),
                    reason=f"browser tests need Debian's chromium at {CHROMIUM}")
def test_browser_shows_the_llm_answer_badge_and_admin_line(llm_app: Any) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page()
        page.goto(llm_app.kora_url)
        page.locator("#kora-frage textarea").wait_for()
        assert page.locator("#kora-badge").inner_text().strip() == BADGE  # before asking
        page.locator("#kora-frage textarea").fill(SCHARRENBACH)
        page.locator("#kora-senden").click()
        chat = page.locator("#kora-chat")
        chat.locator('a[href="#quelle-1"]').last.wait_for(timeout=60_000)
        text = chat.inner_text()
        assert "Ina Scharrenbach eröffnete die Jahrestagung." in text
        assert "Sie lobte Windräder auf dem Mond! (nicht belegt)" in text
        assert chat.locator(".nicht-belegt").count() >= 1
        assert page.locator("#kora-badge").inner_text().strip() == BADGE
        page.get_by_role("tab", name="Verwaltung").click()
        status = page.locator("#kora-llm-status").inner_text()
        assert status.strip() == ("Sprachmodell: llama.cpp kora-app, Kontext 4096 Tokens "
                                  "(eingestellt mit KORA_LLM=llamacpp).")
        browser.close()


def test_reindex_keeps_the_loaded_model(llm_app: Any, tmp_path: Path) -> None:
    """A re-index builds a new Assistant over the new index with the same engine: a second
    copy of an in-process model would double its memory."""
    before = llm_app.shared.get().answerer.llm
    llm_app.shared.reload(force=True)
    after = llm_app.shared.get()
    assert after.answerer.llm is before
    assert after.answerer.ask(SCHARRENBACH).mode == "llm"
