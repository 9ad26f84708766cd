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

PACKAGE = "llama-index-llms-openai-like"
FALLBACK = "or set KORA_LLM=none for extractive answers"


class OpenAICompatibleChat:
    """``ChatModel`` on an OpenAI-compatible server. Constructing contacts nothing."""

    def __init__(self, settings: Settings) -> None:
        openai_like = import_llama_llm(
            "llama_index.llms.openai_like", "OpenAILike", package=PACKAGE
        )
        import httpx

        self.url = settings.openai_base_url.rstrip("/")
        self.model = settings.llm_model
        self.timeout = settings.llm_timeout
        self.name = f"OpenAI-compatible {settings.llm_model}"
        self.context_window = settings.llm_context_window
        self._llm: Any = openai_like(
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

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def stream(self, messages: list[Message]) -> Iterator[str]:
        import openai

        received = 0
        try:
            for response in self._llm.stream_chat(to_llama_messages(messages)):
                received += 1
                if response.delta:
                    yield response.delta
        except openai.APITimeoutError as exc:
            raise LLMUnavailableError(
                f"The OpenAI-compatible server at {self.url} did not answer within "
                f"{self.timeout:g} s: raise KORA_LLM_TIMEOUT {FALLBACK}."
            ) from exc
        except openai.APIConnectionError as exc:
            raise LLMUnavailableError(
                f"The OpenAI-compatible server at {self.url} is not reachable "
                f"({_connect_reason(exc)}): start it or set KORA_OPENAI_BASE_URL to its "
                f"address including /v1, {FALLBACK}."
            ) from exc
        except openai.APIStatusError as exc:
            raise self._refused(exc.status_code, _detail(exc)) from exc
        except openai.OpenAIError as exc:
            raise LLMUnavailableError(
                f"The OpenAI-compatible server at {self.url} sent an answer that could not "
                f"be read ({type(exc).__name__}: {one_line(exc)}): check "
                f"KORA_OPENAI_BASE_URL, {FALLBACK}."
            ) from exc
        if received == 0:
            # A chat-completions stream has at least one chunk, even for an empty answer;
            # the OpenAI SDK silently skips a reply that is not server-sent events.
            raise LLMUnavailableError(
                f"The server at {self.url} sent no chat-completion chunks: check that "
                f"KORA_OPENAI_BASE_URL is an OpenAI-compatible address ending in /v1, "
                f"{FALLBACK}."
            )

    def _refused(self, status: int, detail: str) -> LLMUnavailableError:
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
        return LLMUnavailableError(
            f"{where} refused model '{self.model}' (HTTP {status}: {detail}): {hint}, {FALLBACK}."
        )


def _detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        text = body.get("message") or body.get("detail") or body.get("error") or body
        return one_line(text, limit=160)
    return one_line(getattr(exc, "message", exc), limit=160)


def _connect_reason(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    text = str(cause) if cause is not None else str(exc)
    if "refused" in text.lower():
        return "connection refused"
    return one_line(text, limit=120) or type(exc).__name__
