"""OpenAI-compatible adapter (vLLM, llama.cpp server, LM Studio, …): llama-index's
``OpenAILike``, streaming ``POST {openai_base_url}/chat/completions``.

Nothing here may reach api.openai.com or download a tiktoken encoding:

* the base URL and API key are always passed, so neither the ``OPENAI_*`` environment
  nor the SDK's default (https://api.openai.com/v1) is ever used;
* ``OpenAILike`` counts tokens only through its ``tokenizer`` field, which stays None
  (the parent ``OpenAI`` class would call ``tiktoken.encoding_for_model``, which downloads
  its BPE file on first use); with ``is_chat_model=True`` and ``max_tokens`` set the
  completion-endpoint path that counts prompt tokens is never taken either;
* ``count_tokens`` is a local estimate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rag.providers.llm.base import FALLBACK, import_llama_llm, one_line
from rag.providers.llm.remote import ErrorTable, ServerChat, connect_reason, trust_environment

if TYPE_CHECKING:
    from rag.settings import Settings

PACKAGE = "llama-index-llms-openai-like"


class OpenAICompatibleChat(ServerChat):
    """``ChatModel`` on an OpenAI-compatible server. Constructing contacts nothing."""

    KIND = "OpenAI-compatible"
    # A chat-completions stream has at least one chunk, even for an empty answer; the
    # OpenAI SDK silently skips a reply that is not server-sent events.
    EMPTY_REPLY = ("The server at {url} sent no chat-completion chunks: check that "
                   "KORA_OPENAI_BASE_URL is an OpenAI-compatible address ending in /v1, "
                   "{fallback}.")

    def __init__(self, settings: Settings) -> None:
        openai_like = import_llama_llm(
            "llama_index.llms.openai_like", "OpenAILike", package=PACKAGE
        )
        import httpx

        super().__init__(settings, url=settings.openai_base_url)
        self._llm = openai_like(
            model=settings.llm_model,
            api_base=self.url,
            # The SDK refuses an empty key; local servers ignore it.
            api_key=settings.openai_api_key or "not-needed",
            is_chat_model=True,
            is_function_calling_model=False,
            context_window=settings.llm_context_window,
            max_tokens=settings.llm_max_tokens,
            temperature=settings.llm_temperature,
            timeout=settings.llm_timeout,
            # A local server is there or not: fail at once with the reason instead of
            # backing off for up to a minute.
            max_retries=0,
            tokenizer=None,
            # Timeouts still come from ``timeout`` (the SDK sets them per request); this
            # client only applies the proxy rule (trust_environment).
            http_client=httpx.Client(trust_env=trust_environment(self.url)),
        )

    def _errors(self) -> ErrorTable:
        import openai

        where = f"The OpenAI-compatible server at {self.url}"
        return {
            openai.APITimeoutError: lambda exc: (
                f"{where} did not answer within {self.timeout:g} s: raise KORA_LLM_TIMEOUT "
                f"{FALLBACK}."),
            openai.APIConnectionError: lambda exc: (
                f"{where} is not reachable ({_connect_reason(exc)}): start it or set "
                f"KORA_OPENAI_BASE_URL to its address including /v1, {FALLBACK}."),
            openai.APIStatusError: lambda exc: self._refused(exc.status_code, _detail(exc)),
            openai.OpenAIError: lambda exc: (
                f"{where} sent an answer that could not be read ({type(exc).__name__}: "
                f"{one_line(exc)}): check KORA_OPENAI_BASE_URL, {FALLBACK}."),
        }

    def _refused(self, status: int, detail: str) -> str:
        where = f"The OpenAI-compatible server at {self.url}"
        if status in (401, 403):
            hint = "set KORA_OPENAI_API_KEY to a key the server accepts"
        elif status == 404:
            hint = (
                "check that KORA_OPENAI_BASE_URL ends in /v1 and that KORA_LLM_MODEL names "
                "a model the server serves"
            )
        elif status in (400, 413, 422):
            hint = (
                "the prompt may exceed the server's context; lower KORA_LLM_CONTEXT_WINDOW "
                "to the server's limit"
            )
        else:
            hint = "check the server's log"
        return (f"{where} refused model '{self.model}' (HTTP {status}: {detail}): {hint}, "
                f"{FALLBACK}.")


def _detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        text = body.get("message") or body.get("detail") or body.get("error") or body
        return one_line(text, limit=160)
    return one_line(getattr(exc, "message", exc), limit=160)


def _connect_reason(exc: BaseException) -> str:
    # the SDK's own message says only "Connection error."; its cause says why
    cause = exc.__cause__ or exc.__context__
    return connect_reason(exc, text=None if cause is None else str(cause))
