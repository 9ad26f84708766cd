"""The real web app in the tests: serving it on loopback, the factory that lends it the
session's loaded embedding model, and what several app test modules share."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from loopback import free_port

if TYPE_CHECKING:
    from rag.answering import Assistant
    from rag.providers.embedding import Embedder
    from rag.providers.vectorstore import DataDir
    from rag.settings import Settings

CHROMIUM = "/usr/bin/chromium"
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
