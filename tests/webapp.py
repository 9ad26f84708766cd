"""The real web app in the tests: serving it on loopback, the factory that lends it the
session's loaded embedding model, and what several app test modules share."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from loopback import free_port

if TYPE_CHECKING:
    from rag.answering import Assistant
    from rag.providers.embedding import Embedder
    from rag.providers.vectorstore import DataDir
    from rag.settings import Settings

CHROMIUM = "/usr/bin/chromium"
# what a browser test module sets as its pytestmark
BROWSER_TESTS = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"browser tests need Debian's chromium at {CHROMIUM}"),
]
# nothing in the background: no update checks, no sync, no first-run pages
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCHARRENBACH = "Wer hat die URBAN.KI-Jahrestagung 2025 eröffnet?"


def factory_with(embedder: Embedder) -> Callable[[Settings, DataDir, Any], Assistant]:
    """Opens the app's assistants with the test session's model, not a second copy."""
    from rag.answering import Assistant

    def open_assistant(settings: Settings, data_dir: DataDir, shared: Any) -> Assistant:
        return Assistant.open(settings, data_dir=data_dir, embedder=shared or embedder)

    return open_assistant


def start_app(demo: Any, settings: Settings) -> Any:
    """Serve ``demo`` (what ``build_app`` returns) on a free loopback port as `kora serve`
    does (``demo.close()`` stops it); the test finds the address in ``demo.kora_url``."""
    from ui.app import launch

    port = free_port()
    launch(demo, settings, host="127.0.0.1", port=port)
    demo.kora_url = f"http://127.0.0.1:{port}/"
    return demo


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (its own browser download does not
    work here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
