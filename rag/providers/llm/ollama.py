"""Ollama adapter: llama-index's ``Ollama`` integration, streaming ``/api/chat``.

Ollama's own default context (2048 tokens) silently cuts long prompts from the front,
so every request carries ``options.num_ctx = settings.llm_context_window`` and
``options.num_predict = settings.llm_max_tokens``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.providers.llm.base import FALLBACK, import_llama_llm, one_line
from rag.providers.llm.remote import ErrorTable, ServerChat, connect_reason, trust_environment

if TYPE_CHECKING:
    from rag.settings import Settings

PACKAGE = "llama-index-llms-ollama"


class OllamaChat(ServerChat):
    """``ChatModel`` on an Ollama server. Constructing contacts nothing; ``stream`` does."""

    KIND = "Ollama"
    # Ollama always ends a stream with a "done" line
    EMPTY_REPLY = ("The server at {url} sent an empty reply instead of Ollama's stream: "
                   "check KORA_OLLAMA_URL, {fallback}.")

    def __init__(self, settings: Settings) -> None:
        ollama_class = import_llama_llm("llama_index.llms.ollama", "Ollama", package=PACKAGE)
        from ollama import Client

        super().__init__(settings, url=settings.ollama_url)
        self._llm = ollama_class(
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

    def _errors(self) -> ErrorTable:
        import httpx
        from ollama import ResponseError

        def unreachable(exc: BaseException) -> str:
            return (f"Ollama at {self.url} is not reachable ({connect_reason(exc)}): start "
                    f"it with `ollama serve` or set KORA_OLLAMA_URL, {FALLBACK}.")

        return {
            ResponseError: lambda exc: self._refused(exc.error, exc.status_code),
            httpx.TimeoutException: lambda exc: (
                f"Ollama at {self.url} did not answer within {self.timeout:g} s "
                f"({type(exc).__name__}): the model may still be loading or be too slow "
                f"for this machine; raise KORA_LLM_TIMEOUT {FALLBACK}."),
            httpx.ConnectError: unreachable,
            ConnectionError: unreachable,
            httpx.HTTPError: lambda exc: (
                f"The connection to Ollama at {self.url} failed ({type(exc).__name__}: "
                f"{one_line(exc) or 'no reason given'}): check that Ollama is running, "
                f"{FALLBACK}."),
            # also json.JSONDecodeError and pydantic's ValidationError: a reply that is
            # not Ollama's
            ValueError: lambda exc: (
                f"The server at {self.url} did not answer like Ollama "
                f"({type(exc).__name__}): check KORA_OLLAMA_URL, {FALLBACK}."),
        }

    def _refused(self, error: str, status: int) -> str:
        reason = one_line(error)
        if status == 404 or ("not found" in reason and self.model in reason):
            return (f"Ollama at {self.url}: model '{self.model}' is not available ({reason}): "
                    f"run `ollama pull {self.model}` or set KORA_LLM_MODEL.")
        status_text = f"HTTP {status}" if status > 0 else "error in the stream"
        return (f"Ollama at {self.url} refused the request ({status_text}: {reason}): check "
                f"the Ollama log, {FALLBACK}.")


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
