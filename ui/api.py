"""The OpenAI-compatible HTTP API under ``/v1``, served by `kora serve` on the web app's
port (its routes go into the same FastAPI app as Gradio's, ahead of them).

- ``GET /v1/models``: KORA's answer modes as models (``ui/api_protocol.py``).
- ``POST /v1/chat/completions``: one answer, whole or streamed as server-sent events.

Every request needs ``Authorization: Bearer <key>`` (keys in people's database,
``people/api_keys.py``) unless the admin opened the API (``KORA_API_OPEN=true``). A
wrong key counts as a failed login of the client address (and of the key id it names),
with the logins' waits, in the database that every worker shares; with that database
down, keyed requests get a 503 (an open API still answers). Answers take a
slot from the worker's ``AnswerSlots``, which the chat shares; a full line is a 429 with
``Retry-After``. A streaming client that goes away stops its answer at the next piece
the model writes and gives its slot back. Every failure is a JSON error in OpenAI's
shape; nothing returns a traceback or an HTML page. Questions are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import gc
import json
import logging
import math
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import anyio
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from people import ApiKeyStore, AuditLog, DatabaseUnavailableError, ProxyTrust, Throttle
from rag.answering import Answerer
from rag.errors import (
    EmptyIndexError,
    IndexModelMismatchError,
    IndexUnavailableError,
    KoraError,
)
from rag.jsontypes import JSONObject
from rag.providers.llm import ChatModel, Message
from rag.settings import Settings
from ui import strings as S
from ui.answer_slots import AnswerSlots, QueueFull, Slot, Ticket
from ui.api_protocol import (
    MAX_BODY_BYTES,
    ApiError,
    ChatRequest,
    StreamDefuser,
    answer_content,
    chunk_body,
    completion_body,
    completion_id,
    kora_field,
    models_body,
    now,
    parse_chat_request,
    streamed_rest,
)
from ui.failures import answer_failure
from ui.shared_assistant import SharedAssistant

if TYPE_CHECKING:
    from rag.answering import Answer

log = logging.getLogger(__name__)
KEEPALIVE_SECONDS = 5.0
_KNOWN_PATHS = {"/v1/models": "GET", "/v1/chat/completions": "POST"}


class ApiSettings(BaseSettings):
    """The API's own settings, from the environment only (``KORA_API_*``).

    They sit apart from ``rag.settings.Settings`` for now (that module is being reworked
    together with the answering core); they belong there, as ``api_open`` and
    ``api_queue_size``, and will move."""

    model_config = SettingsConfigDict(env_prefix="KORA_API_", extra="ignore",
                                      use_attribute_docstrings=True)

    open: bool = False
    """KORA_API_OPEN: answer API requests without a key. Only on a trusted network:
    anybody who reaches the port can ask. `kora serve` warns at start."""
    queue_size: int = Field(default=64, ge=0)
    """KORA_API_QUEUE_SIZE: API requests that may wait for an answer slot in one worker;
    one more gets 429 with Retry-After."""


class ClientGone(Exception):
    """Raised into the answering thread when its streaming client has left."""


@dataclass(frozen=True)
class Caller:
    client: str
    key_id: str | None  # None: the API is open and no valid key came with the request


class OpenAIApi:
    def __init__(self, *, settings: Settings, api_settings: ApiSettings, shared: SharedAssistant,
                 slots: AnswerSlots, keys: ApiKeyStore, audit: AuditLog,
                 throttle: Throttle,
                 record_refused: Callable[[Answer], None] | None = None) -> None:
        self.settings = settings
        self.api_settings = api_settings
        self.shared = shared
        self.slots = slots
        self.keys = keys
        self.audit = audit
        self.throttle = throttle
        self.record_refused = record_refused or (lambda answer: None)
        self.proxy = ProxyTrust(settings)
        self.started = now()

    def routes(self) -> list[BaseRoute]:
        every = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        return [
            Route("/v1/models", self._guarded(self.models), methods=["GET"]),
            Route("/v1/chat/completions", self._guarded(self.chat_completions),
                  methods=["POST"]),
            Route("/v1", self._guarded(self.unknown), methods=every),
            Route("/v1/{rest:path}", self._guarded(self.unknown), methods=every),
        ]

    def _guarded(self, endpoint: Callable[[Request], Awaitable[Response]]
                 ) -> Callable[[Request], Awaitable[Response]]:
        async def guarded(request: Request) -> Response:
            try:
                return await endpoint(request)
            except ApiError as exc:
                return _error_response(exc)
            except Exception:  # a bug: logged for the operator, one line for the caller
                log.exception("API request failed")
                return _error_response(ApiError(
                    500, S.API_FAILED.format(error=S.ANSWER_FAILED.format(
                        error=S.UNEXPECTED_ERROR)), code="internal_error", kind="server_error"))
        return guarded

    # --- endpoints --------------------------------------------------------------------

    async def models(self, request: Request) -> Response:
        await self._authenticate(request)
        return JSONResponse(models_body(self._configured_mode(), self.started))

    async def unknown(self, request: Request) -> Response:
        path = request.url.path.rstrip("/") or "/"
        if path in _KNOWN_PATHS:
            raise ApiError(405, S.API_WRONG_METHOD.format(method=request.method, path=path),
                           code="method_not_allowed",
                           headers={"Allow": _KNOWN_PATHS[path]})
        raise ApiError(404, S.API_UNKNOWN_PATH.format(path=path[:100]), code="not_found")

    async def chat_completions(self, request: Request) -> Response:
        await self._authenticate(request)
        chat = parse_chat_request(await _read_json(request))
        self._check_index()
        try:
            ticket = self.slots.reserve()
        except QueueFull as exc:
            raise ApiError(429, S.API_QUEUE_FULL.format(seconds=exc.retry_after),
                           code="queue_full", kind="rate_limit_error",
                           headers={"Retry-After": str(exc.retry_after)}) from None
        ident, created = completion_id(), now()
        if chat.stream:
            return StreamingResponse(
                self._stream(chat, ticket, ident, created), media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        slot = await ticket.wait()
        events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._start_answer(chat, slot, events, threading.Event())
        while True:
            kind, value = await events.get()
            if kind == "done":
                return JSONResponse(completion_body(
                    ident=ident, model=chat.model, created=created,
                    content=answer_content(value), kora=kora_field(value, chat.model)))
            if kind == "error":
                raise _answer_error(value)

    # --- answering --------------------------------------------------------------------

    def _start_answer(self, chat: ChatRequest, slot: Slot,
                      events: asyncio.Queue[tuple[str, Any]], gone: threading.Event) -> None:
        """Answer in a thread of its own (not one of the server's pool, which Gradio's
        events need); its pieces and its end arrive in ``events``."""
        loop = asyncio.get_running_loop()

        def post(item: tuple[str, Any]) -> None:
            with contextlib.suppress(RuntimeError):  # the server's loop has closed
                loop.call_soon_threadsafe(events.put_nowait, item)

        def relay(piece: str) -> None:
            if gone.is_set():
                raise ClientGone
            post(("token", piece))

        def work() -> None:
            left = False
            try:
                with self.shared.use() as assistant:
                    answerer = _for_request(assistant.answerer, chat, gone)
                    answer = answerer.ask(chat.question, history=chat.history,
                                          filters=chat.filters, on_token=relay)
            except ClientGone:
                left = True
            except Exception as exc:  # handed to the request, which answers with it
                post(("error", exc))
            else:
                self.record_refused(answer)
                post(("done", answer))
            finally:
                if left:
                    # llama-index's stream objects sit in reference cycles: only the
                    # collector closes their connection, and only then does the LLM
                    # server stop writing the abandoned answer
                    gc.collect()
                slot.release()

        threading.Thread(target=work, name="kora-api-answer", daemon=True).start()

    async def _stream(self, chat: ChatRequest, ticket: Ticket, ident: str,
                      created: int) -> AsyncIterator[str]:
        def chunk(delta: JSONObject, finish: str | None = None,
                  kora: JSONObject | None = None) -> str:
            return _sse(chunk_body(ident=ident, model=chat.model, created=created,
                                   delta=delta, finish_reason=finish, kora=kora))

        gone = threading.Event()
        waiting = asyncio.ensure_future(ticket.wait())
        answering = False
        try:
            yield chunk({"role": "assistant", "content": ""})
            while not waiting.done():
                # a comment line now and then: proxies keep the connection, and a client
                # that left while waiting is noticed
                await asyncio.wait({waiting}, timeout=KEEPALIVE_SECONDS)
                if not waiting.done():
                    yield ": wartet auf einen freien Platz\n\n"
            events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
            self._start_answer(chat, waiting.result(), events, gone)
            answering = True
            streamed = ""
            defuser = StreamDefuser()
            while True:
                try:
                    kind, value = await asyncio.wait_for(events.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ": schreibt\n\n"
                    continue
                if kind == "token":
                    streamed += value
                    text = defuser.feed(value)
                    if text:
                        yield chunk({"content": text})
                elif kind == "done":
                    rest = defuser.flush() + streamed_rest(streamed, value)
                    if rest:
                        yield chunk({"content": rest})
                    yield chunk({}, "stop", kora_field(value, chat.model))
                    yield "data: [DONE]\n\n"
                    return
                else:
                    error = _answer_error(value)
                    yield _sse(error.body())
                    yield "data: [DONE]\n\n"
                    return
        finally:
            gone.set()
            if not waiting.done():
                waiting.cancel()
            elif not answering and not waiting.cancelled() and waiting.exception() is None:
                waiting.result().release()  # granted, but the client left before its use

    # --- who asks ---------------------------------------------------------------------

    async def _authenticate(self, request: Request) -> Caller:
        client = self.proxy.caller(request).client
        presented = _bearer(request)
        # keys, their throttling and the audit live in people's database: off the event loop
        try:
            return await anyio.to_thread.run_sync(self._check_key, client, presented)
        except DatabaseUnavailableError:
            log.warning("API key not checked: people's database is unavailable")
            raise ApiError(503, S.API_DATABASE_DOWN, code="database_unavailable",
                           kind="server_error", headers={"Retry-After": "30"}) from None

    def _check_key(self, client: str, presented: str | None) -> Caller:
        if self.api_settings.open:
            # an open API answers without a database; a valid key is only counted
            with contextlib.suppress(DatabaseUnavailableError):
                if presented and (check := self.keys.check(presented)).key is not None:
                    self.keys.count_request(check.key.id)
                    return Caller(client, check.key.id)
            return Caller(client, None)
        throttle_keys = [f"api-client:{client}"]
        wait = self.throttle.wait_seconds(*throttle_keys)
        if wait > 0:
            self._refused(client, None, "throttled", wait)
        if not presented:
            raise ApiError(401, S.API_KEY_MISSING, code="missing_api_key")
        check = self.keys.check(presented)
        if check.key_id:
            throttle_keys.append(f"api-key:{check.key_id}")
            wait = self.throttle.wait_seconds(*throttle_keys)
            if wait > 0:
                self._refused(client, check.key_id, "throttled", wait)
        if check.key is None:
            # counted in the database: five wrong keys spread over any number of workers
            # start the wait on all of them, as failed logins do
            wait = self.throttle.failure(*throttle_keys)
            self._refused(client, check.key_id, check.refusal or "unknown", wait)
        self.throttle.success(*throttle_keys)
        self.keys.count_request(check.key.id)
        return Caller(client, check.key.id)

    def _refused(self, client: str, key_id: str | None, why: str, wait: float) -> NoReturn:
        """Audit a refused key (never the key itself) and raise the error the caller sees."""
        detail: JSONObject = {"reason": why}
        if key_id:
            detail["key_id"] = key_id
        if wait > 0:
            detail["wait_seconds"] = math.ceil(wait)
        self.audit.append(action="api-key", account="", client=client,
                          outcome="throttled" if why == "throttled" else "failed",
                          detail=detail)
        if why == "throttled":
            seconds = math.ceil(wait)
            raise ApiError(429, S.API_KEY_THROTTLED.format(seconds=seconds),
                           code="too_many_failed_keys", kind="rate_limit_error",
                           headers={"Retry-After": str(seconds)})
        message = {"expired": S.API_KEY_EXPIRED,
                   "revoked": S.API_KEY_REVOKED}.get(why, S.API_KEY_INVALID)
        raise ApiError(401, message, code="invalid_api_key")

    # --- helpers ----------------------------------------------------------------------

    def _configured_mode(self) -> str:
        return mode_label_for(self.shared.llm)

    def _check_index(self) -> None:
        """An index that cannot answer now (empty, of another model, its server down) is
        said before a request waits in line."""
        try:
            self.shared.get()
        except KoraError as exc:
            raise _answer_error(exc) from None


def mode_label_for(llm: ChatModel | None) -> str:
    """The configured answer mode in a few words, as the chat's badge says it."""
    if llm is None:
        return S.MODE_EXTRACTIVE
    return S.MODE_LLM.format(name=llm.name, context=llm.context_window)


def _for_request(answerer: Answerer, chat: ChatRequest, gone: threading.Event) -> Answerer:
    """The process's answerer as this request uses it: a shallow copy (every stage
    shared) whose LLM stops writing, and lets go of its server connection, as soon as
    ``gone`` is set; without its LLM for ``kora-extraktiv``."""
    own = copy.copy(answerer)
    own.llm = None if chat.extractive or answerer.llm is None else _Stoppable(
        answerer.llm, gone)
    return own


class _Stoppable:
    """A ChatModel that ends its stream at the next piece once the client has gone,
    closing the model's own stream there and then: the answering core leaves a stream it
    stops reading to the garbage collector, which would keep the LLM writing (and its
    slot taken) for a while."""

    def __init__(self, model: ChatModel, gone: threading.Event) -> None:
        self._model = model
        self._gone = gone
        self.name = model.name
        self.context_window = model.context_window

    def count_tokens(self, text: str) -> int:
        return self._model.count_tokens(text)

    def stream(self, messages: list[Message]) -> Iterator[str]:
        inner = self._model.stream(messages)
        try:
            for piece in inner:
                if self._gone.is_set():
                    raise ClientGone
                yield piece
        finally:
            close = getattr(inner, "close", None)
            if close is not None:
                close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


async def _read_json(request: Request) -> object:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    body = bytearray()
    try:
        async for piece in request.stream():
            body += piece
            if len(body) > MAX_BODY_BYTES:
                raise _too_large()
    except ClientDisconnect:
        raise ApiError(400, S.API_BAD_JSON, code="invalid_json") from None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, S.API_BAD_JSON, code="invalid_json") from None


def _too_large() -> ApiError:
    return ApiError(400, S.API_BODY_TOO_LARGE.format(limit=MAX_BODY_BYTES // 1_000_000),
                    code="body_too_large")


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _answer_error(exc: BaseException) -> ApiError:
    """The error a failed answer becomes: the index not usable now is 503 (try again),
    anything else 500; the message is the chat's one line."""
    line = answer_failure(exc)
    if isinstance(exc, IndexUnavailableError | EmptyIndexError | IndexModelMismatchError):
        return ApiError(503, S.API_INDEX_PROBLEM.format(problem=line),
                        code="index_unavailable", kind="server_error",
                        headers={"Retry-After": "60"})
    return ApiError(500, S.API_FAILED.format(error=line), code="answer_failed",
                    kind="server_error")


def _error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def _sse(data: JSONObject) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


__all__ = ["ApiSettings", "OpenAIApi", "mode_label_for"]
