"""The real web app in the tests: serving it on loopback, the factory that lends it the
session's loaded embedding model, and what several app test modules share."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

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


# the admin password the browser modules set (KORA_ADMIN_PASSWORD) and log in with
PASSWORD = "Geheim-Test-42"


class Page:
    """A page that records every URL it requests."""

    def __init__(self, browser: Any, url: str) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.goto(url)
        self.page.locator("#kora-frage textarea").wait_for()

    def ask(self, question: str, expect: str) -> None:
        # the final (checked) answer carries the citation links: wait for one more of
        # them than before, or an earlier answer's link would end the wait too soon
        links = 'document.querySelectorAll(\'#kora-chat a[href="#quelle-1"]\').length'
        before = self.page.evaluate(f"() => {links}")
        self.page.locator("#kora-frage textarea").fill(question)
        self.page.locator("#kora-senden").click()
        self.page.wait_for_function(f"(before) => {links} > before", arg=before,
                                    timeout=60_000)
        self.page.locator("#kora-chat").get_by_text(expect).first.wait_for(timeout=60_000)

    def off_machine_requests(self) -> list[str]:
        return [url for url in self.requests if url.startswith(("http:", "https:", "ws"))
                and urlparse(url).hostname not in ("127.0.0.1", "localhost")]

    def close(self) -> None:
        self.context.close()
