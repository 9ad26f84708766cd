"""llama.cpp in-process: a GGUF model run by xllamacpp, llama.cpp's own server engine
called from Python.

Why it is built like this:

* ``xllamacpp.Server`` is llama.cpp's C++ server: continuous batching over
  ``settings.llm_parallel`` slots, so two people asking at once are answered side by
  side; each slot gets ``context_window`` tokens of KV cache.
* ``Server.handle_chat_completions`` blocks (without holding the GIL) and calls back once
  per chunk. A worker thread runs it and hands the chunks to the reading generator
  through a queue. When the reader stops early (the generator is closed), the next
  callback returns True, which makes llama.cpp cancel the task and free its slot.
* The engine always listens on a free loopback port as well. A random API key keeps
  other users of the machine out; KORA itself uses the port only to count tokens
  exactly (``/tokenize``), and tests use it as a real OpenAI-compatible server.
* The file is checked before llama.cpp sees it (``gguf_file``): llama.cpp itself says
  no more than "Failed to init server", and a model that does not fit in memory would
  not fail at all but page for minutes per answer.
"""

from __future__ import annotations

import os
import queue
import secrets
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rag.errors import LLMUnavailableError
from rag.jsontypes import JSONObject
from rag.providers.llm.base import FALLBACK, Message, one_line
from rag.providers.llm.gguf_file import GGUFInfo, check_memory, find_gguf, read_gguf

if TYPE_CHECKING:
    from rag.settings import Settings

PACKAGE = "xllamacpp"
_END = object()


def default_threads() -> int:
    """One thread less than the cores this process may use, at least one: llama.cpp's
    threads wait for each other at every step, and one that waits for a core another
    process holds stalls them all (the measurement is in ``Settings.llm_threads``)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


def context_for(settings: Settings, info: GGUFInfo) -> int:
    """The configured window, but never beyond what the model was trained for."""
    if info.context_length:
        return min(settings.llm_context_window, info.context_length)
    return settings.llm_context_window


def import_xllamacpp() -> Any:
    try:
        import xllamacpp
    except ImportError as exc:
        raise LLMUnavailableError(
            f"KORA_LLM=llamacpp needs the package {PACKAGE}, which is not installed "
            f"({one_line(exc)}): run `pip install {PACKAGE}` {FALLBACK}."
        ) from exc
    return xllamacpp


class LlamaCppChat:
    """``ChatModel`` on a GGUF file, run in this process. Constructing loads the model."""

    def __init__(self, settings: Settings, *, info: GGUFInfo | None = None) -> None:
        """``info``: the file's header when the caller has read it already."""
        path = info.path if info is not None else find_gguf(settings.llm_model_path)
        info = info or read_gguf(path)
        context = context_for(settings, info)
        check_memory(info, context=context, parallel=settings.llm_parallel)
        xllamacpp = import_xllamacpp()

        self.info = info
        self.path = path
        self.name = f"llama.cpp {info.name}"
        self.context_window = context
        self.parallel = settings.llm_parallel
        self.threads = settings.llm_threads or default_threads()
        self.max_tokens = settings.llm_max_tokens
        self.temperature = settings.llm_temperature
        self.timeout = settings.llm_timeout
        self.api_key = secrets.token_urlsafe(24)
        self._server = self._start(xllamacpp)
        self.address: str = self._server.listening_address
        import httpx

        # loopback only, so no proxy may ever see the document text (see trust_environment)
        self._http = httpx.Client(
            base_url=self.address, trust_env=False, timeout=self.timeout,
            headers={"Authorization": f"Bearer {self.api_key}"},
        )

    def _start(self, xllamacpp: Any) -> Any:
        params = xllamacpp.CommonParams()
        params.model.path = str(self.path)
        # one KV cache of context_window tokens per slot (not shared: a long answer in one
        # slot can never push another out of its window)
        params.n_ctx = self.context_window * self.parallel
        params.n_parallel = self.parallel
        params.kv_unified = False
        params.n_predict = self.max_tokens
        # the same for the prompt: with more threads for prompts than for answers, two
        # answers at once (a batch, computed with the prompt threads) stalled whenever
        # another process held a core (benchmarks/llm.py)
        params.cpuparams.n_threads = self.threads
        params.cpuparams_batch.n_threads = self.threads
        params.sampling.temp = self.temperature
        params.offline = True  # never download a model or anything else
        params.hostnames = ["127.0.0.1"]
        params.port = 0  # a free port
        params.api_keys = [self.api_key]
        params.ui = False
        # KORA's answers are short and cited; "thinking" tokens of reasoning models would
        # eat the answer budget and the CPU time before the first visible word.
        params.enable_reasoning = 0
        # the host-memory prompt cache defaults to 8 GiB: memory a shared server needs more
        params.cache_ram_mib = 0
        # keep the context KORA asked for (and reported), rather than one fitted silently
        params.fit_params = False
        params.verbosity = 0  # llama.cpp's log is long; KORA reports problems in one line
        params.endpoint_metrics = True  # token and decode counters (behind the API key)
        try:
            return xllamacpp.Server(params)
        except (RuntimeError, ValueError) as exc:
            raise LLMUnavailableError(
                f"llama.cpp could not load {self.path} ({one_line(exc, limit=80)}): the file "
                f"may be damaged or use an architecture ({self.info.architecture}) that "
                f"xllamacpp {getattr(xllamacpp, '__version__', '')} does not support; try "
                f"another GGUF file, {FALLBACK}."
            ) from exc

    def count_tokens(self, text: str) -> int:
        import httpx

        try:
            response = self._http.post(
                "/tokenize", json={"content": text, "add_special": False}
            )
            response.raise_for_status()
            return len(response.json()["tokens"])
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise LLMUnavailableError(
                f"llama.cpp could not count tokens ({type(exc).__name__}: "
                f"{one_line(exc, limit=100)}): restart KORA, {FALLBACK}."
            ) from exc

    def stream(self, messages: list[Message]) -> Iterator[str]:
        request = {
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "cache_prompt": True,  # the system prompt's KV cache is reused per slot
        }
        chunks: queue.Queue[Any] = queue.Queue()
        stop = threading.Event()

        def on_chunk(chunk: Any) -> bool:
            chunks.put(chunk)
            return stop.is_set()  # True makes llama.cpp cancel the task

        def work() -> None:
            try:
                self._server.handle_chat_completions(request, on_chunk)
            except Exception as exc:  # handed to the reader, raised there
                chunks.put(exc)
            finally:
                chunks.put(_END)

        threading.Thread(target=work, name="kora-llamacpp", daemon=True).start()
        received = 0
        try:
            while True:
                try:
                    chunk = chunks.get(timeout=self.timeout)
                except queue.Empty:
                    raise LLMUnavailableError(
                        f"llama.cpp wrote nothing for {self.timeout:g} s with {self.name}: "
                        "the model may be too large for this machine; use a smaller one, "
                        f"lower KORA_LLM_CONTEXT_WINDOW or raise KORA_LLM_TIMEOUT, {FALLBACK}."
                    ) from None
                if chunk is _END:
                    break
                received += 1
                if isinstance(chunk, Exception):
                    raise LLMUnavailableError(
                        f"llama.cpp failed while answering ({type(chunk).__name__}: "
                        f"{one_line(chunk, limit=120)}): {FALLBACK}."
                    ) from chunk
                piece = self._piece(chunk)
                if piece:
                    yield piece
        finally:
            stop.set()
        if received == 0:
            raise LLMUnavailableError(
                f"llama.cpp returned no answer with {self.name}: check the model file, "
                f"{FALLBACK}."
            )

    def _piece(self, chunk: Any) -> str:
        """The answer text in one streamed chunk; an error chunk raises."""
        if not isinstance(chunk, dict):
            return ""
        error = chunk.get("error")
        if error is not None:
            raise self._refused(error if isinstance(error, dict) else {"message": error})
        choices = chunk.get("choices") or [{}]
        delta = choices[0].get("delta") or {}
        content = delta.get("content")
        return content if isinstance(content, str) else ""

    def _refused(self, error: JSONObject) -> LLMUnavailableError:
        if error.get("type") == "exceed_context_size_error":
            return LLMUnavailableError(
                f"The question and its sources need {error.get('n_prompt_tokens', '?')} tokens, "
                f"more than the {error.get('n_ctx', self.context_window)} tokens of context "
                f"{self.name} has: lower KORA_TOP_K or raise KORA_LLM_CONTEXT_WINDOW (at most "
                f"{self.info.context_length or 'the model window'}), {FALLBACK}."
            )
        return LLMUnavailableError(
            f"llama.cpp refused the request ({error.get('code', '?')}: "
            f"{one_line(error.get('message', error), limit=120)}): {FALLBACK}."
        )

    def engine_metrics(self) -> dict[str, float]:
        """llama.cpp's counters (``llamacpp:<name>`` without the prefix), such as
        ``tokens_predicted_total`` and ``n_decode_total``."""
        metrics: dict[str, float] = {}
        for line in str(self._server.handle_metrics()).splitlines():
            name, _, value = line.partition(" ")
            if name.startswith("llamacpp:"):
                try:
                    metrics[name.removeprefix("llamacpp:")] = float(value)
                except ValueError:
                    continue
        return metrics

    def close(self) -> None:
        """Stop the engine and free the model's memory (also happens when garbage-collected)."""
        self._http.close()
        self._server = None
