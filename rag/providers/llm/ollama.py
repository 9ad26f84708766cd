"""Ollama adapter: llama-index's ``Ollama`` integration, streaming ``/api/chat``.

Ollama's own default context (2048 tokens) silently cuts long prompts from the front,
so every request carries ``options.num_ctx = settings.llm_context_window`` and
``options.num_predict = settings.llm_max_tokens``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rag.errors import LLMUnavailableError
from rag.providers.llm.common import (
    estimate_tokens,
    import_llama_llm,
    one_line,
    to_llama_messages,
    trust_environment,
)

if TYPE_CHECKING:
    from rag.providers.llm import Message
    from rag.settings import Settings

PACKAGE = "llama-index-llms-ollama"
FALLBACK = "or set KORA_LLM=none for extractive answers"


class OllamaChat:
    """``ChatModel`` on an Ollama server. Constructing contacts nothing; ``stream`` does."""

    def __init__(self, settings: Settings) -> None:
        ollama_class = import_llama_llm("llama_index.llms.ollama", "Ollama", package=PACKAGE)
        from ollama import Client

        self.url = settings.ollama_url.rstrip("/")
        self.model = settings.llm_model
        self.timeout = settings.llm_timeout
        self.name = f"Ollama {settings.llm_model}"
        self.context_window = settings.llm_context_window
        self._llm: Any = ollama_class(
            model=settings.llm_model,
            base_url=self.url,
            request_timeout=settings.llm_timeout,
            temperature=settings.llm_temperature,
            # A set context_window also keeps the integration from asking the server
            # (/api/show) for the model's window.
            context_window=settings.llm_context_window,
            # The integration already sends context_window as options.num_ctx; naming it
            # here keeps that true should its option mapping change.
            additional_kwargs={
                "num_ctx": settings.llm_context_window,
                "num_predict": settings.llm_max_tokens,
            },
            # The integration's own client, except for the proxy rule (trust_environment).
            client=Client(
                host=self.url,
                timeout=settings.llm_timeout,
                trust_env=trust_environment(self.url),
            ),
        )

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def stream(self, messages: list[Message]) -> Iterator[str]:
        import httpx
        from ollama import ResponseError

        received = 0
        try:
            for response in self._llm.stream_chat(to_llama_messages(messages)):
                received += 1
                if response.delta:
                    yield response.delta
        except ResponseError as exc:
            raise self._refused(exc.error, exc.status_code) from exc
        except httpx.TimeoutException as exc:
            raise LLMUnavailableError(
                f"Ollama at {self.url} did not answer within {self.timeout:g} s "
                f"({type(exc).__name__}): the model may still be loading or be too slow for "
                f"this machine; raise KORA_LLM_TIMEOUT {FALLBACK}."
            ) from exc
        except (httpx.ConnectError, ConnectionError) as exc:
            raise LLMUnavailableError(
                f"Ollama at {self.url} is not reachable ({_connect_reason(exc)}): start it "
                f"with `ollama serve` or set KORA_OLLAMA_URL, {FALLBACK}."
            ) from exc
        except httpx.HTTPError as exc:
            raise LLMUnavailableError(
                f"The connection to Ollama at {self.url} failed ({type(exc).__name__}: "
                f"{one_line(exc) or 'no reason given'}): check that Ollama is running, "
                f"{FALLBACK}."
            ) from exc
        except (json.JSONDecodeError, ValueError) as exc:
            # ValueError includes pydantic's ValidationError: a reply that is not Ollama's.
            raise LLMUnavailableError(
                f"The server at {self.url} did not answer like Ollama "
                f"({type(exc).__name__}): check KORA_OLLAMA_URL, {FALLBACK}."
            ) from exc
        if received == 0:  # Ollama always ends a stream with a "done" line
            raise LLMUnavailableError(
                f"The server at {self.url} sent an empty reply instead of Ollama's stream: "
                f"check KORA_OLLAMA_URL, {FALLBACK}."
            )

    def _refused(self, error: str, status: int) -> LLMUnavailableError:
        reason = one_line(error)
        if status == 404 or ("not found" in reason and self.model in reason):
            return LLMUnavailableError(
                f"Ollama at {self.url}: model '{self.model}' is not available ({reason}): "
                f"run `ollama pull {self.model}` or set KORA_LLM_MODEL."
            )
        status_text = f"HTTP {status}" if status > 0 else "error in the stream"
        return LLMUnavailableError(
            f"Ollama at {self.url} refused the request ({status_text}: {reason}): check the "
            f"Ollama log, {FALLBACK}."
        )


def _connect_reason(exc: BaseException) -> str:
    text = str(exc)
    if "refused" in text.lower():
        return "connection refused"
    return one_line(text, limit=120) or type(exc).__name__


def ollama_answers_quickly(settings: Settings) -> bool:
    """True when ``GET {ollama_url}/api/tags`` answers HTTP 200 within
    ``settings.llm_auto_probe_seconds`` (the test of ``KORA_LLM=auto``)."""
    import httpx

    url = settings.ollama_url.rstrip("/") + "/api/tags"
    try:
        response = httpx.get(
            url,
            timeout=settings.llm_auto_probe_seconds,
            trust_env=trust_environment(url),
        )
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError):
        return False
    return response.status_code == 200
