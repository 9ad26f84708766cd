"""Helpers the LLM adapters share: message conversion, token estimates, one-line reasons."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rag.errors import LLMUnavailableError

if TYPE_CHECKING:
    from llama_index.core.base.llms.types import ChatMessage

    from rag.providers.llm import Message

# Servers without a local tokenizer (Ollama, OpenAI-compatible) get an estimate. German
# words split into more tokens than English ones, so three characters per token errs
# towards counting too many: that costs a little context, it never overflows the window.
CHARS_PER_TOKEN = 3.0


def estimate_tokens(text: str) -> int:
    """Tokens of ``text`` for a model whose tokenizer is not available here (an upper-side
    estimate, safe for German)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def one_line(text: object, *, limit: int = 200) -> str:
    """``text`` as a single line of at most ``limit`` characters, for error messages."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def is_loopback(url: str) -> bool:
    """Whether ``url`` points at this machine (localhost, 127.0.0.0/8, ::1)."""
    import ipaddress
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def trust_environment(url: str) -> bool:
    """httpx's ``trust_env`` for a server at ``url``. httpx sends even loopback requests
    through ``HTTP_PROXY`` unless ``NO_PROXY`` names the host, which would hand prompts
    (document excerpts included) to a proxy; for a server on this machine the proxy
    settings are therefore ignored, for any other host they apply as usual."""
    return not is_loopback(url)


def import_llama_llm(module: str, class_name: str, *, package: str) -> Any:
    """``module.class_name`` from a llama-index integration, or a one-line install hint."""
    import importlib

    try:
        return getattr(importlib.import_module(module), class_name)
    except ImportError as exc:
        raise LLMUnavailableError(
            f"This LLM backend needs the package {package}, which is not installed "
            f"({one_line(exc)}): run `pip install {package}` or set KORA_LLM=none "
            "for extractive answers."
        ) from exc


def to_llama_messages(messages: Sequence[Message]) -> list[ChatMessage]:
    """KORA's messages as llama-index ``ChatMessage`` objects (text only)."""
    from llama_index.core.base.llms.types import ChatMessage, MessageRole

    return [ChatMessage(role=MessageRole(m.role), content=m.content) for m in messages]
