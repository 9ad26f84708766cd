"""The OpenAI chat-completions protocol as KORA speaks it: reading a request, and the
shapes of models, completions, stream chunks and errors.

Pure functions over dictionaries: no server, no answering. ``ui/api.py`` serves them.

What KORA takes from a request: the model (one of ``MODELS``), the conversation in
``messages`` (system and developer messages are ignored: they are the portal's
instructions to a general model and never steer KORA's answer; earlier user and assistant
turns are the history that follow-up questions use; the last message must be the user's
question), ``stream``, and KORA's own filters in the extra field ``kora``. Sampling
parameters (temperature, max_tokens, ...) are accepted and ignored: KORA's answers are
made and checked its own way. What it cannot do is refused with 400 instead of being
silently dropped: several choices, tools and function calls, images, audio and files,
structured output.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field

from rag.answering import Answer, EmptyQuestionError, Turn, clean_question
from rag.jsontypes import JSONObject
from rag.retrieval import Filters
from ui import strings as S

MODEL_CONFIGURED = "kora"
MODEL_EXTRACTIVE = "kora-extraktiv"
MODELS = (MODEL_CONFIGURED, MODEL_EXTRACTIVE)
OWNER = "kora"
MAX_BODY_BYTES = 2_000_000
MAX_HISTORY_TURNS = 10
_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")
_IGNORED_ROLES = ("system", "developer")
_IMAGES, _AUDIO, _FILES = "Bilder (images)", "Audio (audio)", "Dateien (files)"
_UNSUPPORTED_PARTS = {"image_url": _IMAGES, "image": _IMAGES, "input_image": _IMAGES,
                      "input_audio": _AUDIO, "audio": _AUDIO, "file": _FILES,
                      "input_file": _FILES}
# Markdown that a chat portal would turn into a request to an outside address (an image)
# or into HTML: document text must not do that in somebody else's portal
_ACTIVE_MARKDOWN = re.compile(r"!\[|<(?=[A-Za-z/!?])")


class ApiError(Exception):
    """A request KORA answers with an error in OpenAI's shape."""

    def __init__(self, status: int, message: str, *, code: str,
                 kind: str = "invalid_request_error", param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.kind = kind
        self.param = param
        self.headers = headers or {}

    def body(self) -> JSONObject:
        return error_body(self.message, kind=self.kind, code=self.code, param=self.param)


def error_body(message: str, *, kind: str, code: str,
               param: str | None = None) -> JSONObject:
    return {"error": {"message": message, "type": kind, "code": code, "param": param}}


def _bad(message: str, code: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, code=code, param=param)


# --- the request --------------------------------------------------------------------


@dataclass(frozen=True)
class ChatRequest:
    model: str
    question: str
    history: list[Turn] = field(default_factory=list)
    stream: bool = False
    filters: Filters = field(default_factory=Filters)

    @property
    def extractive(self) -> bool:
        return self.model == MODEL_EXTRACTIVE


def parse_chat_request(body: object) -> ChatRequest:
    """The request, checked; raises ``ApiError`` (400, or 404 for an unknown model)."""
    if not isinstance(body, dict):
        raise _bad(S.API_BAD_JSON, "invalid_json")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad(S.API_FIELD_MISSING.format(field="model"), "missing_field", "model")
    if model not in MODELS:
        raise ApiError(404, S.API_UNKNOWN_MODEL.format(model=model[:80],
                                                       models=", ".join(MODELS)),
                       code="model_not_found", param="model")
    _refuse_unsupported(body)
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise _bad(S.API_FIELD_INVALID.format(field="stream", why="true oder false."),
                   "invalid_field", "stream")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad(S.API_FIELD_MISSING.format(field="messages"), "missing_field", "messages")
    conversation = [_message(entry, index) for index, entry in enumerate(messages)]
    conversation = [(role, text) for role, text in conversation if role not in _IGNORED_ROLES]
    if not conversation or conversation[-1][0] != "user":
        raise _bad(S.API_NO_USER_MESSAGE, "no_user_message", "messages")
    question = _question(conversation[-1][1])
    return ChatRequest(model=model, question=question, history=_history(conversation[:-1]),
                       stream=stream, filters=_filters(body.get("kora")))


def _refuse_unsupported(body: JSONObject) -> None:
    n = body.get("n")
    if n is not None and n != 1:
        raise _bad(S.API_UNSUPPORTED.format(what=f"n={n!r} (mehrere Antworten)"),
                   "unsupported_parameter", "n")
    for name in ("tools", "functions"):
        if body.get(name):
            raise _bad(S.API_UNSUPPORTED.format(what=f"{name} (Werkzeuge und Funktionen)"),
                       "unsupported_parameter", name)
    for name in ("tool_choice", "function_call"):
        if body.get(name) not in (None, "none", "auto"):
            raise _bad(S.API_UNSUPPORTED.format(what=f"{name} (Werkzeuge und Funktionen)"),
                       "unsupported_parameter", name)
    modalities = body.get("modalities")
    if body.get("audio") or (isinstance(modalities, list) and "audio" in modalities):
        raise _bad(S.API_UNSUPPORTED.format(what=_AUDIO), "unsupported_parameter", "audio")
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") not in (None, "text"):
        raise _bad(S.API_UNSUPPORTED.format(what="response_format (strukturierte Ausgabe)"),
                   "unsupported_parameter", "response_format")


def _message(entry: object, index: int) -> tuple[str, str]:
    """(role, text) of one message."""
    param = f"messages[{index}]"
    if not isinstance(entry, dict):
        raise _bad(S.API_FIELD_INVALID.format(field=param, why="kein Objekt."),
                   "invalid_field", param)
    role = entry.get("role")
    if role in ("tool", "function") or entry.get("tool_calls") or entry.get("function_call"):
        raise _bad(S.API_UNSUPPORTED.format(what="Werkzeug- und Funktionsaufrufe"),
                   "unsupported_parameter", param)
    if role not in ("system", "developer", "user", "assistant"):
        raise _bad(S.API_FIELD_INVALID.format(field=f"{param}.role",
                                              why="system, user oder assistant."),
                   "invalid_field", f"{param}.role")
    return role, _text(entry.get("content"), param)


def _text(content: object, param: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _bad(S.API_FIELD_INVALID.format(field=f"{param}.content",
                                              why="Text oder eine Liste von Textteilen."),
                   "invalid_field", f"{param}.content")
    texts = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in _UNSUPPORTED_PARTS:
            raise _bad(S.API_UNSUPPORTED.format(what=_UNSUPPORTED_PARTS[kind]),
                       "unsupported_content", f"{param}.content")
        if kind not in ("text", "input_text") or not isinstance(part.get("text"), str):
            raise _bad(S.API_FIELD_INVALID.format(field=f"{param}.content",
                                                  why="nur Textteile (type: text)."),
                       "invalid_field", f"{param}.content")
        texts.append(part["text"])
    return "\n".join(texts)


def _question(text: str) -> str:
    try:
        question, cut = clean_question(text)
    except EmptyQuestionError:
        raise _bad(S.API_EMPTY_QUESTION, "empty_question", "messages") from None
    if cut:
        raise _bad(S.API_QUESTION_TOO_LONG.format(length=_thousands(len(text)),
                                                  limit=_thousands(question_limit())),
                   "question_too_long", "messages")
    return question


_LIMIT: list[int] = []


def question_limit() -> int:
    """The longest question the answering core takes whole (asked of it once: a word
    longer than the limit is cut exactly at the limit)."""
    if not _LIMIT:
        _LIMIT.append(len(clean_question("x" * 1_000_000)[0]))
    return _LIMIT[0]


def _thousands(number: int) -> str:
    return f"{number:,}".replace(",", ".")


def _history(conversation: list[tuple[str, str]]) -> list[Turn]:
    """Earlier questions and answers as the answering core remembers them. An earlier
    question is remembered as asked (its standalone form, which KORA worked out at the
    time, is not in the messages); KORA's source list is cut off its earlier answers."""
    turns: list[Turn] = []
    for role, text in conversation:
        if role == "user":
            try:
                question, _ = clean_question(text)
            except EmptyQuestionError:
                continue
            turns.append(Turn(question, question, ""))
        elif turns and not turns[-1].answer:
            turns[-1].answer = strip_sources(text)
    return turns[-MAX_HISTORY_TURNS:]


def strip_sources(content: str) -> str:
    """KORA's answer text without the source list and notice that the API appended."""
    return content.split("\n\n" + S.API_SOURCES_HEADING, 1)[0].strip()


def _filters(extra: object) -> Filters:
    """KORA's filters from the extra body field ``kora``: ``type`` (one or a list of
    document types; "alle" for none), ``date_from`` and ``date_to`` (YYYY[-MM[-DD]])."""
    if extra is None:
        return Filters()
    if not isinstance(extra, dict):
        raise _bad(S.API_FIELD_INVALID.format(field="kora", why="ein Objekt mit type, "
                                              "date_from, date_to."), "invalid_field", "kora")
    unknown = sorted(set(extra) - {"type", "date_from", "date_to"})
    if unknown:
        raise _bad(S.API_FIELD_INVALID.format(field=f"kora.{unknown[0]}",
                                              why="erlaubt sind type, date_from, date_to."),
                   "invalid_field", f"kora.{unknown[0]}")
    types = extra.get("type") or ()
    if isinstance(types, str):
        types = () if types == S.TYPE_ALL else (types,)
    if not isinstance(types, list | tuple) or not all(
            isinstance(t, str) and t for t in types) or len(types) > 20:
        known = ", ".join(S.DOCUMENT_TYPES)
        raise _bad(S.API_FIELD_INVALID.format(
            field="kora.type", why=f"ein Dokumenttyp oder eine Liste ({known})."),
            "invalid_field", "kora.type")
    dates: dict[str, str | None] = {}
    for name in ("date_from", "date_to"):
        value = extra.get(name)
        if value is not None and not (isinstance(value, str) and _DATE.fullmatch(value)):
            raise _bad(S.API_FIELD_INVALID.format(field=f"kora.{name}",
                                                  why="ein Datum JJJJ, JJJJ-MM oder JJJJ-MM-TT."),
                       "invalid_field", f"kora.{name}")
        dates[name] = value
    return Filters(types=tuple(t for t in types if t != S.TYPE_ALL),
                   date_from=dates["date_from"], date_to=dates["date_to"])


# --- what KORA sends back -----------------------------------------------------------


def models_body(configured_mode: str, created: int) -> JSONObject:
    descriptions = {MODEL_CONFIGURED: S.API_MODEL_CONFIGURED.format(mode=configured_mode),
                    MODEL_EXTRACTIVE: S.API_MODEL_EXTRACTIVE}
    return {"object": "list",
            "data": [{"id": model, "object": "model", "created": created, "owned_by": OWNER,
                      "description": descriptions[model]} for model in MODELS]}


def completion_id() -> str:
    return f"chatcmpl-{secrets.token_hex(12)}"


def kora_field(answer: Answer, model: str) -> JSONObject:
    """KORA's structured answer beside the text: everything ``Answer.as_json`` carries
    (citations, refused, notice, mode, and whatever the answering core adds), so that a
    client which knows KORA reads the sources without parsing the text."""
    return {**answer.as_json(), "model": model}


def completion_body(*, ident: str, model: str, created: int, content: str,
                    kora: JSONObject) -> JSONObject:
    # no "usage": the prompt KORA builds (its packed sources) stays inside the answering
    # core, so its token count is unknown here, and an extractive answer has no model to
    # count with; the protocol allows leaving it out, and KORA does not guess
    return {
        "id": ident, "object": "chat.completion", "created": created, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop", "logprobs": None}],
        "kora": kora,
    }


def chunk_body(*, ident: str, model: str, created: int, delta: JSONObject,
               finish_reason: str | None = None,
               kora: JSONObject | None = None) -> JSONObject:
    body: JSONObject = {
        "id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason,
                     "logprobs": None}],
    }
    if kora is not None:
        body["kora"] = kora
    return body


def now() -> int:
    return int(time.time())


# --- the answer as chat text --------------------------------------------------------


def defuse(text: str) -> str:
    """Text that a Markdown chat shows as written: no image that loads an outside
    address, no HTML. The ``[n]`` markers and the rest stay as they are."""
    return _ACTIVE_MARKDOWN.sub(lambda match: "\\" + match.group()
                                if match.group() == "<" else "!\\[", text)


class StreamDefuser:
    """``defuse`` for text that arrives in pieces: a "!" or "<" at the end of a piece
    waits for the next one, which decides what it starts."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, piece: str) -> str:
        text = self._held + piece
        self._held = ""
        if text.endswith(("!", "<")):
            text, self._held = text[:-1], text[-1]
        return defuse(text)

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held


def answer_tail(answer: Answer) -> str:
    """What follows the answer text: the notice and the source list."""
    parts = []
    if answer.notice:
        parts.append(defuse(S.NOTICE_PREFIX + answer.notice))
    if answer.citations:
        lines = [S.API_SOURCES_HEADING]
        for citation in answer.citations:
            passage = citation.passage
            where = " – ".join(part for part in (passage.title, passage.location) if part)
            date = f" ({passage.date})" if passage.date else ""
            lines.append(f"- [{citation.n}] {defuse(where)}{defuse(date)}")
        parts.append("\n".join(lines))
    return "".join("\n\n" + part for part in parts)


def answer_content(answer: Answer) -> str:
    """The whole reply of a non-streamed answer."""
    return defuse(answer.answer) + answer_tail(answer)


def streamed_rest(streamed: str, answer: Answer) -> str:
    """What a stream still sends once the answer is checked: the checked answer when
    nothing was streamed (a refusal) or when the check changed what was streamed (a
    citation renumbered, a sentence marked unsupported, an LLM answer replaced by the
    extractive one), then the notice and the sources."""
    if not streamed.strip():
        return defuse(answer.answer) + answer_tail(answer)
    if streamed.strip() != answer.answer.strip():
        return f"\n\n{S.API_CHECKED_ANSWER}\n{defuse(answer.answer)}" + answer_tail(answer)
    return answer_tail(answer)


__all__ = [
    "MAX_BODY_BYTES",
    "MODELS",
    "MODEL_CONFIGURED",
    "MODEL_EXTRACTIVE",
    "ApiError",
    "ChatRequest",
    "StreamDefuser",
    "answer_content",
    "answer_tail",
    "chunk_body",
    "completion_body",
    "completion_id",
    "defuse",
    "error_body",
    "kora_field",
    "models_body",
    "now",
    "parse_chat_request",
    "question_limit",
    "streamed_rest",
    "strip_sources",
]
