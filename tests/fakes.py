"""Stand-ins for what the tests do not run for real: LLM servers on loopback that speak
Ollama's streaming chat and the OpenAI chat-completions protocol, an in-process chat
model that tests enqueue replies into (``FakeChatModel``, for tests of KORA's side of the
``ChatModel`` contract, where no wire is under test), the script and words of the tiny
GGUF models, and a clock a test moves by hand."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from rag.errors import LLMUnavailableError
from rag.providers.llm.base import Message, estimate_tokens
from tests.conftest import CORPUS
from tests.servers import Reply, json_reply

OLLAMA_MODEL = "llama3.1:8b"
# what both fakes stream by default, one piece a message
PIECES = ["Die Frist ", "für den Widerspruch ", "beträgt einen Monat ", "[1]."]
# the tiny scripted GGUF model writes exactly these words
SCRIPT = ["Ina", "Scharrenbach", "eröffnete", "die", "Jahrestagung", "."]


def ollama_fake(*, tags_delay: float = 0.0, tags_status: int = 200) -> Callable[..., Reply]:
    """Ollama's /api/tags and streaming /api/chat; only ``OLLAMA_MODEL`` is pulled."""

    def respond(method: str, path: str, body: Any) -> Reply:
        if method == "GET" and path == "/api/tags":
            time.sleep(tags_delay)
            return json_reply(tags_status, {"models": [{"name": OLLAMA_MODEL, "size": 1}]})
        if method == "POST" and path == "/api/chat":
            if body["model"] != OLLAMA_MODEL:
                return json_reply(404, {"error": f"model '{body['model']}' not found"})
            lines = [
                {
                    "model": OLLAMA_MODEL,
                    "created_at": "2025-01-01T00:00:00Z",
                    "message": {"role": "assistant", "content": piece},
                    "done": False,
                }
                for piece in PIECES
            ]
            lines.append(
                {
                    "model": OLLAMA_MODEL,
                    "created_at": "2025-01-01T00:00:01Z",
                    "message": {"role": "assistant", "content": ""},
                    "done": True,
                    "done_reason": "stop",
                    "total_duration": 1_200_000,
                    "load_duration": 100_000,
                    "prompt_eval_count": 42,
                    "eval_count": len(PIECES),
                    "eval_duration": 1_000_000,
                }
            )
            chunks = [(json.dumps(line, ensure_ascii=False) + "\n").encode() for line in lines]
            return 200, "application/x-ndjson", chunks
        return json_reply(404, {"error": "not found"})

    return respond


def openai_fake(
    *, fail_status: int | None = None, script: Callable[[Any], list[str]] | None = None
) -> Callable[..., Reply]:
    """POST /v1/chat/completions with ``"stream": true`` as server-sent events; ``script``
    turns the request body into the streamed pieces (default: ``PIECES``)."""

    def respond(method: str, path: str, body: Any) -> Reply:
        if method != "POST" or path != "/v1/chat/completions":
            return json_reply(404, {"error": {"message": f"no route {path}"}})
        if fail_status is not None:
            return json_reply(
                fail_status, {"error": {"message": "CUDA out of memory", "type": "server_error"}}
            )
        assert body["stream"] is True
        pieces = script(body) if script is not None else PIECES
        deltas = [{"role": "assistant", "content": ""}] + [{"content": p} for p in pieces]
        chunks = []
        for index, delta in enumerate(deltas):
            chunk = {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": body["model"],
                "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
            }
            if index == len(deltas) - 1:
                chunk["choices"][0]["finish_reason"] = "stop"
            chunks.append(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
        chunks.append(b"data: [DONE]\n\n")
        return 200, "text/event-stream", chunks

    return respond


def ollama_stream(pieces: list[str]) -> Reply:
    """Ollama's streaming /api/chat reply of ``pieces``."""
    lines = [{"model": OLLAMA_MODEL, "created_at": "2025-01-01T00:00:00Z",
              "message": {"role": "assistant", "content": p}, "done": False} for p in pieces]
    lines.append({"model": OLLAMA_MODEL, "created_at": "2025-01-01T00:00:01Z",
                  "message": {"role": "assistant", "content": ""}, "done": True,
                  "done_reason": "stop"})
    return 200, "application/x-ndjson", [
        (json.dumps(line, ensure_ascii=False) + "\n").encode() for line in lines]


_SOURCE = re.compile(r'<quelle nr="(\d+)">.*?<text>\n(.*?)\n</text>', re.S)
_ASKING = re.compile(r"^\s*(?:\w+\s+)?(?:wer|wen|wem|wann|wo|wie\s+viele?|wie\s+hoch|wie\s+lange|"
                     r"was|welche[rmns]?(?:\s+\w+)?)\s+", re.IGNORECASE)


def misattributing_answer(user: str) -> list[str]:
    """What a small model that misattributes writes: for a question asking for a name,
    date, number or place, the question's words with an expression of that kind from the
    source sentence that speaks LEAST about the question, cited with that source (every
    word of the claim is in the passage, the pairing is not); for other questions the
    source sentence that speaks most about it, cited correctly."""
    from rag.answering import expected_answer, find_expressions
    from rag.text import sentence_spans

    question = user.rsplit("Frage:", 1)[-1].strip()
    asked = {w.lower() for w in re.findall(r"\w{4,}", question)}
    expected = expected_answer(question)
    sentences = [(int(n), " ".join(text[start:end].split()))
                 for n, text in _SOURCE.findall(user) for start, end in sentence_spans(text)]
    if not sentences:
        return ["Dazu steht nichts in den Dokumenten."]

    def overlap(item: tuple[int, str]) -> int:
        return len(asked & {w.lower() for w in re.findall(r"\w{4,}", item[1])})

    if expected.is_typed:
        typed = [(n, sentence, found) for n, sentence in sentences
                 for found in find_expressions(sentence, expected)
                 if sentence[found.start : found.end].lower() not in question.lower()]
        if typed:
            n, sentence, found = min(typed, key=lambda t: overlap((t[0], t[1])))
            span = sentence[found.start : found.end].strip(" ,.;:")
            body = _ASKING.sub("", question).rstrip(" ?")
            return [f"{span} – {body} ", f"[{n}]."]
    n, sentence = max(sentences, key=overlap)
    return [f"{sentence.rstrip('.')} ", f"[{n}]."]


def misattributing_ollama() -> Callable[..., Reply]:
    """An Ollama server whose model answers as ``misattributing_answer``."""

    def respond(method: str, path: str, body: Any) -> Reply:
        if method == "GET" and path == "/api/tags":
            return json_reply(200, {"models": [{"name": OLLAMA_MODEL, "size": 1}]})
        if method == "POST" and path == "/api/chat":
            return ollama_stream(misattributing_answer(body["messages"][-1]["content"]))
        return json_reply(404, {"error": "not found"})

    return respond


def corpus_words() -> list[str]:
    """The vocabulary of the tiny GGUF models: the words of the shipped corpus."""
    from loopback import words_of

    return words_of(path.read_text(encoding="utf-8") for path in sorted(CORPUS.rglob("*.md")))


class Clock:
    """Time as the code under test reads it: stands still until the test advances it."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeChatModel:
    """A ``ChatModel`` in this process whose replies the test enqueues, as simonw/llm's
    ``MockModel`` does: ``model.enqueue(["Antwort ", "[1]."])`` makes the next stream
    yield those pieces. With no reply queued it streams ``default``, or, without one,
    fails the way an adapter does (``LLMUnavailableError``). It records the messages of
    every stream and how many streams ran at once (``peak``); ``delay`` is slept before
    each piece, so concurrent streams overlap."""

    def __init__(self, *, name: str = "fake", context_window: int = 4096,
                 default: Sequence[str] | None = None, delay: float = 0.0) -> None:
        self.name = name
        self.context_window = context_window
        self.default = list(default) if default is not None else None
        self.delay = delay
        self.prompts: list[list[Message]] = []
        self.active = 0
        self.peak = 0
        self._replies: deque[list[str]] = deque()
        self._lock = threading.Lock()

    def enqueue(self, pieces: Sequence[str]) -> None:
        """The next stream yields ``pieces``, one by one."""
        with self._lock:
            self._replies.append(list(pieces))

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def stream(self, messages: list[Message]) -> Iterator[str]:
        with self._lock:
            self.prompts.append(list(messages))
            pieces = self._replies.popleft() if self._replies else self.default
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            if pieces is None:
                raise LLMUnavailableError(f"{self.name}: no reply enqueued")
            for piece in pieces:
                time.sleep(self.delay)
                yield piece
        finally:
            with self._lock:
                self.active -= 1
