"""The LLM adapters against loopback fakes that speak Ollama's and the OpenAI
chat-completions streaming protocols, and against a tiny random transformers model
built here. Every fake records what it received, so the tests check the wire too."""

from __future__ import annotations

import json
import math
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from rag.errors import LLMUnavailableError
from rag.providers.llm import (
    ChatModel,
    Message,
    OllamaChat,
    OpenAICompatibleChat,
    TransformersChat,
    load_llm,
    ollama_answers_quickly,
)
from rag.settings import Settings
from tests.fakes import OLLAMA_MODEL, PIECES, ollama_fake, openai_fake
from tests.servers import Reply, json_reply

MESSAGES = [
    Message(role="system", content="Antworte nur aus den Quellen."),
    Message(role="user", content="Wie lange ist die Widerspruchsfrist?"),
]
WIRE_MESSAGES = [{"role": m.role, "content": m.content} for m in MESSAGES]
ANSWER = "Die Frist für den Widerspruch beträgt einen Monat [1]."


@pytest.fixture(autouse=True)
def _direct_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests to the fakes go straight to them, whatever proxy the machine has set."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def ollama_settings(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "llm": "ollama",
        "ollama_url": url,
        "llm_model": OLLAMA_MODEL,
        "llm_context_window": 4096,
        "llm_max_tokens": 64,
        "llm_temperature": 0.2,
        "llm_auto_probe_seconds": 0.3,
    }
    return Settings.load(**{**values, **overrides})


def assert_one_line(error: pytest.ExceptionInfo[LLMUnavailableError]) -> str:
    message = str(error.value)
    assert message and "\n" not in message
    return message


# --- Ollama ---------------------------------------------------------------------------


def test_ollama_streams_the_answer_and_sends_num_ctx(serve: Any) -> None:
    server = serve(ollama_fake())
    chat = OllamaChat(ollama_settings(server.url))
    assert server.received == []  # constructing contacts nothing

    pieces = list(chat.stream(MESSAGES))

    assert pieces == PIECES
    assert "".join(pieces) == ANSWER
    assert chat.name == f"Ollama {OLLAMA_MODEL}"
    assert chat.context_window == 4096
    [request] = server.received
    assert (request.method, request.path) == ("POST", "/api/chat")
    assert request.body["model"] == OLLAMA_MODEL
    assert request.body["stream"] is True
    assert request.body["messages"] == WIRE_MESSAGES
    assert request.body["options"]["num_ctx"] == 4096
    assert request.body["options"]["num_predict"] == 64
    assert request.body["options"]["temperature"] == pytest.approx(0.2)


def test_ollama_token_estimate_errs_high_for_german() -> None:
    chat = OllamaChat(ollama_settings("http://127.0.0.1:9"))
    text = "Die Widerspruchsfrist beträgt einen Monat nach Bekanntgabe des Bescheids."
    assert chat.count_tokens(text) == math.ceil(len(text) / 3)
    assert chat.count_tokens("") == 0


def test_ollama_missing_model_says_to_pull_it(serve: Any) -> None:
    server = serve(ollama_fake())
    chat = OllamaChat(ollama_settings(server.url, llm_model="mistral:7b"))

    with pytest.raises(LLMUnavailableError) as error:
        list(chat.stream(MESSAGES))

    message = assert_one_line(error)
    assert "ollama pull mistral:7b" in message
    assert "KORA_LLM_MODEL" in message
    assert server.url in message
    assert [r.path for r in server.received] == ["/api/chat"]


def stream_error(chat: ChatModel) -> str:
    """The one line that streaming ``MESSAGES`` from ``chat`` fails with."""
    with pytest.raises(LLMUnavailableError) as error:
        list(chat.stream(MESSAGES))
    return assert_one_line(error)


def test_ollama_closed_port_names_the_url(closed_url: str) -> None:
    message = stream_error(OllamaChat(ollama_settings(closed_url)))
    assert f"Ollama at {closed_url} is not reachable (connection refused)" in message
    assert "ollama serve" in message and "KORA_LLM=none" in message


def test_ollama_timeout_and_wrong_server(serve: Any) -> None:
    def slow(method: str, path: str, body: Any) -> Reply:
        time.sleep(1.0)
        return json_reply(200, {})

    server = serve(slow)
    with pytest.raises(LLMUnavailableError) as error:
        list(OllamaChat(ollama_settings(server.url, llm_timeout=0.3)).stream(MESSAGES))
    message = assert_one_line(error)
    assert f"Ollama at {server.url} did not answer within 0.3 s" in message
    assert "KORA_LLM_TIMEOUT" in message

    for reply in ([b"<html>Intranet</html>"], []):
        web = serve(lambda method, path, body, reply=reply: (200, "text/html", reply))
        with pytest.raises(LLMUnavailableError) as error:
            list(OllamaChat(ollama_settings(web.url)).stream(MESSAGES))
        assert web.url in assert_one_line(error) and "KORA_OLLAMA_URL" in str(error.value)


def test_ollama_probe(serve: Any, closed_url: str) -> None:
    server = serve(ollama_fake())
    assert ollama_answers_quickly(ollama_settings(server.url)) is True
    assert [(r.method, r.path) for r in server.received] == [("GET", "/api/tags")]

    assert ollama_answers_quickly(ollama_settings(closed_url)) is False
    broken = serve(ollama_fake(tags_status=500))
    assert ollama_answers_quickly(ollama_settings(broken.url)) is False

    slow = serve(ollama_fake(tags_delay=1.5))
    started = time.monotonic()
    assert ollama_answers_quickly(ollama_settings(slow.url, llm_auto_probe_seconds=0.2)) is False
    assert time.monotonic() - started < 1.0


def test_auto_uses_ollama_when_it_answers(serve: Any) -> None:
    server = serve(ollama_fake())

    model, description = load_llm(ollama_settings(server.url, llm="auto"))

    assert isinstance(model, OllamaChat)
    assert description == (
        f"auto: Ollama answered at {server.url}, using {OLLAMA_MODEL}, context 4096 tokens"
    )
    assert [r.path for r in server.received] == ["/api/tags"]
    assert "".join(model.stream(MESSAGES)) == ANSWER


def test_auto_falls_back_to_extractive(closed_url: str) -> None:
    model, description = load_llm(ollama_settings(closed_url, llm="auto"))

    assert model is None
    assert description.startswith(f"auto: no Ollama answered at {closed_url}")
    assert description.endswith("extractive answers")


def test_every_backend_kind_is_registered() -> None:
    from typing import get_args

    from rag.choices import LLMBackend, LLMKind
    from rag.providers.llm.registry import BACKENDS

    assert list(BACKENDS) == list(get_args(LLMBackend))
    assert get_args(LLMKind) == ("auto", *get_args(LLMBackend))


def test_explicit_backends_do_not_contact_their_server_when_built(
    serve: Any, closed_url: str
) -> None:
    assert load_llm(Settings.load(llm="none")) == (None, "none: extractive answers")

    model, description = load_llm(ollama_settings(closed_url))
    assert isinstance(model, OllamaChat)
    assert description == f"ollama: {OLLAMA_MODEL} at {closed_url}, context 4096 tokens"

    server = serve(openai_fake())
    model, description = load_llm(
        Settings.load(llm="openai", openai_base_url=f"{server.url}/v1", llm_model="qwen")
    )
    assert isinstance(model, OpenAICompatibleChat)
    assert description == f"openai: qwen at {server.url}/v1, context 8192 tokens"
    assert server.received == []


# --- OpenAI-compatible ------------------------------------------------------------------


@pytest.fixture
def no_openai_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """Anything that used the OPENAI_* environment or a tiktoken encoding would fail."""
    import tiktoken

    for name in ("OPENAI_BASE_URL", "OPENAI_API_BASE"):
        monkeypatch.setenv(name, "http://127.0.0.1:9/not-this-one")
    monkeypatch.setenv("OPENAI_API_KEY", "not-this-key")

    def no_encoding(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("tiktoken encoding requested (it would be downloaded)")

    monkeypatch.setattr(tiktoken, "get_encoding", no_encoding)
    monkeypatch.setattr(tiktoken, "encoding_for_model", no_encoding)


def openai_settings(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "llm": "openai",
        "openai_base_url": f"{url}/v1",
        "openai_api_key": "geheim",
        "llm_model": "Qwen2.5-7B-Instruct",
        "llm_context_window": 16384,
        "llm_max_tokens": 300,
        "llm_temperature": 0.1,
    }
    return Settings.load(**{**values, **overrides})


@pytest.mark.usefixtures("no_openai_defaults")
def test_openai_compatible_streams_the_answer(serve: Any) -> None:
    server = serve(openai_fake())
    chat = OpenAICompatibleChat(openai_settings(server.url))

    pieces = list(chat.stream(MESSAGES))

    assert pieces == PIECES
    assert "".join(pieces) == ANSWER
    assert chat.name == "OpenAI-compatible Qwen2.5-7B-Instruct"
    assert chat.context_window == 16384
    text = "Bürgerinnen und Bürger können Unterlagen online einreichen."
    assert chat.count_tokens(text) == math.ceil(len(text) / 3)
    [request] = server.received  # exactly one request, and only to the fake
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == "Bearer geheim"
    assert request.body["model"] == "Qwen2.5-7B-Instruct"
    assert request.body["messages"] == WIRE_MESSAGES
    assert request.body["stream"] is True
    assert request.body["max_tokens"] == 300
    assert request.body["temperature"] == pytest.approx(0.1)


@pytest.mark.usefixtures("no_openai_defaults")
def test_openai_compatible_server_error(serve: Any) -> None:
    server = serve(openai_fake(fail_status=500))
    chat = OpenAICompatibleChat(openai_settings(server.url))

    with pytest.raises(LLMUnavailableError) as error:
        list(chat.stream(MESSAGES))

    message = assert_one_line(error)
    assert f"{server.url}/v1" in message
    assert "HTTP 500" in message and "CUDA out of memory" in message
    assert "KORA_LLM=none" in message
    assert len(server.received) == 1  # no retries


@pytest.mark.usefixtures("no_openai_defaults")
def test_openai_compatible_wrong_address(serve: Any) -> None:
    server = serve(openai_fake())
    chat = OpenAICompatibleChat(openai_settings(server.url, openai_base_url=server.url))
    with pytest.raises(LLMUnavailableError) as error:
        list(chat.stream(MESSAGES))
    message = assert_one_line(error)
    assert "HTTP 404" in message and "ends in /v1" in message
    assert [r.path for r in server.received] == ["/chat/completions"]

    web = serve(lambda method, path, body: (200, "text/html", [b"<html>Intranet</html>"]))
    with pytest.raises(LLMUnavailableError) as error:
        list(OpenAICompatibleChat(openai_settings(web.url)).stream(MESSAGES))
    assert "sent no chat-completion chunks" in assert_one_line(error)


@pytest.mark.usefixtures("no_openai_defaults")
def test_openai_compatible_timeout(serve: Any) -> None:
    def slow(method: str, path: str, body: Any) -> Reply:
        time.sleep(1.0)
        return json_reply(200, {})

    server = serve(slow)
    chat = OpenAICompatibleChat(openai_settings(server.url, llm_timeout=0.3))
    started = time.monotonic()
    with pytest.raises(LLMUnavailableError) as error:
        list(chat.stream(MESSAGES))
    assert time.monotonic() - started < 0.9
    assert f"{server.url}/v1 did not answer within 0.3 s" in assert_one_line(error)
    assert len(server.received) == 1


@pytest.mark.usefixtures("no_openai_defaults")
def test_openai_compatible_closed_port(closed_url: str) -> None:
    message = stream_error(OpenAICompatibleChat(openai_settings(closed_url)))
    assert f"{closed_url}/v1 is not reachable (connection refused)" in message
    assert "KORA_OPENAI_BASE_URL" in message and "KORA_LLM=none" in message


# --- proxies -----------------------------------------------------------------------------


@pytest.mark.usefixtures("no_openai_defaults")
def test_servers_on_this_machine_bypass_a_configured_proxy(
    serve: Any, closed_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, closed_url)  # a proxy that is not there
    ollama = serve(ollama_fake())
    openai = serve(openai_fake())

    assert ollama_answers_quickly(ollama_settings(ollama.url)) is True
    assert "".join(OllamaChat(ollama_settings(ollama.url)).stream(MESSAGES)) == ANSWER
    chat = OpenAICompatibleChat(openai_settings(openai.url))
    assert "".join(chat.stream(MESSAGES)) == ANSWER
    assert [r.path for r in ollama.received] == ["/api/tags", "/api/chat"]
    assert [r.path for r in openai.received] == ["/v1/chat/completions"]


def test_loopback_addresses() -> None:
    from rag.providers.llm.remote import is_loopback

    for url in ("http://localhost:11434", "http://127.0.0.2:8000/v1", "http://[::1]:8000/v1"):
        assert is_loopback(url), url
    for url in ("http://ollama.intern:11434", "http://10.1.2.3:8000/v1", "not a url"):
        assert not is_loopback(url), url


# --- transformers (a tiny random model) -------------------------------------------------

SENTENCES = [
    "Der Antrag auf Baugenehmigung wird beim Bauamt gestellt .",
    "Die Frist für den Widerspruch beträgt einen Monat .",
    "Die Gebühr richtet sich nach der Gebührenordnung der Stadt .",
    "Bürgerinnen und Bürger können Unterlagen online einreichen .",
    "Antworte nur aus den Quellen . Wie lange ist die Widerspruchsfrist ?",
]
SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>", "<|system|>", "<|user|>", "<|assistant|>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}<|assistant|>"
)


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A word-level German tokenizer with a chat template and a 2-layer random Llama."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    target = tmp_path_factory.mktemp("tiny-llama")
    word_level = Tokenizer(models.WordLevel(unk_token="<unk>"))
    word_level.pre_tokenizer = pre_tokenizers.Whitespace()
    word_level.train_from_iterator(
        SENTENCES, trainers.WordLevelTrainer(special_tokens=SPECIAL_TOKENS)
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=word_level,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(target)

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(target)
    return target


def transformers_settings(
    monkeypatch: pytest.MonkeyPatch, model_dir: Path, *, max_tokens: int = 16
) -> Settings:
    """Settings as a user sets them: through the environment."""
    monkeypatch.setenv("KORA_LLM", "transformers")
    monkeypatch.setenv("KORA_LLM_MODEL_PATH", str(model_dir))
    monkeypatch.setenv("KORA_LLM_MAX_TOKENS", str(max_tokens))
    monkeypatch.setenv("KORA_LLM_TEMPERATURE", "0")
    return Settings.load()


@pytest.mark.slow
def test_transformers_streams_from_a_local_model(
    monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path
) -> None:
    from transformers import AutoTokenizer

    model, description = load_llm(transformers_settings(monkeypatch, tiny_model_dir))

    assert isinstance(model, TransformersChat)
    assert description == f"transformers: local model {tiny_model_dir}, context 1024 tokens"
    assert model.name == f"transformers {tiny_model_dir.name}"
    assert model.context_window == 1024  # KORA's 8192 lowered to the model's own window
    assert model.render_prompt(MESSAGES) == (
        "<|system|>Antworte nur aus den Quellen."
        "<|user|>Wie lange ist die Widerspruchsfrist?<|assistant|>"
    )

    pieces = list(model.stream(MESSAGES))

    assert pieces and all(isinstance(piece, str) and piece for piece in pieces)
    text = "".join(pieces)
    reference = AutoTokenizer.from_pretrained(str(tiny_model_dir), local_files_only=True)
    words = set(reference.get_vocab()) - set(SPECIAL_TOKENS)
    assert text.split() and set(text.split()) <= words
    assert model.count_tokens(text) <= 16
    assert "".join(model.stream(MESSAGES)) == text  # greedy at temperature 0

    for sample in [*SENTENCES, "Unbekannte Wörter zählen als <unk>.", ""]:
        expected = len(reference(sample, add_special_tokens=False)["input_ids"])
        assert model.count_tokens(sample) == expected
    assert model.count_tokens("Die Frist beträgt einen Monat .") == 6


@pytest.mark.slow
def test_transformers_generation_failure_is_reported_not_hung(
    monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path
) -> None:
    from transformers import LlamaForCausalLM

    model, _ = load_llm(transformers_settings(monkeypatch, tiny_model_dir))
    assert model is not None

    def broken_forward(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("Gewichte kaputt")

    monkeypatch.setattr(LlamaForCausalLM, "forward", broken_forward)
    outcome: dict[str, BaseException] = {}

    def consume() -> None:
        try:
            list(model.stream(MESSAGES))
        except BaseException as exc:
            outcome["error"] = exc

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    reader.join(timeout=30)

    assert not reader.is_alive(), "stream() waits forever after the generation thread failed"
    error = outcome.get("error")
    assert isinstance(error, LLMUnavailableError)
    assert "RuntimeError: Gewichte kaputt" in str(error) and "\n" not in str(error)


@pytest.mark.slow
def test_transformers_stops_generating_when_the_reader_stops(
    monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path
) -> None:
    from transformers import LlamaForCausalLM

    model, _ = load_llm(transformers_settings(monkeypatch, tiny_model_dir, max_tokens=400))
    assert model is not None
    steps: list[float] = []
    original_forward = LlamaForCausalLM.forward

    def slow_forward(self: Any, *args: Any, **kwargs: Any) -> Any:
        steps.append(time.monotonic())
        time.sleep(0.005)
        return original_forward(self, *args, **kwargs)

    monkeypatch.setattr(LlamaForCausalLM, "forward", slow_forward)
    stream: Any = model.stream(MESSAGES)  # a generator: close() is what a reader that stops does
    next(stream)
    stream.close()
    time.sleep(0.3)
    after_close = len(steps)
    time.sleep(0.3)

    assert len(steps) == after_close < 100


@pytest.mark.slow
def test_transformers_prompt_has_one_bos(tmp_path: Path, tiny_model_dir: Path) -> None:
    """A template that writes BOS itself, for a tokenizer that adds BOS too."""
    from tokenizers.processors import TemplateProcessing
    from transformers import AutoTokenizer

    model_dir = tmp_path / "mit-bos"
    shutil.copytree(tiny_model_dir, model_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    tokenizer.backend_tokenizer.post_processor = TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tokenizer.bos_token_id)]
    )
    tokenizer.chat_template = "{{ bos_token }}" + CHAT_TEMPLATE
    tokenizer.save_pretrained(model_dir)
    reference = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    assert reference("Frist")["input_ids"][0] == reference.bos_token_id

    model = TransformersChat(Settings.load(llm="transformers", llm_model_path=model_dir))
    prompt = model.render_prompt(MESSAGES)

    assert prompt.startswith("<|system|>")
    assert reference(prompt)["input_ids"].count(reference.bos_token_id) == 1


def test_transformers_needs_a_model_directory(tmp_path: Path, tiny_model_dir: Path) -> None:
    missing = tmp_path / "fehlt"
    with pytest.raises(LLMUnavailableError) as error:
        load_llm(Settings.load(llm="transformers", llm_model_path=missing))
    message = assert_one_line(error)
    assert str(missing) in message and "KORA_LLM_MODEL_PATH" in message

    with pytest.raises(LLMUnavailableError) as error:
        load_llm(Settings.load(llm="transformers"))
    assert "KORA_LLM_MODEL_PATH" in assert_one_line(error)

    empty = tmp_path / "leer"
    empty.mkdir()
    with pytest.raises(LLMUnavailableError) as error:
        load_llm(Settings.load(llm="transformers", llm_model_path=empty))
    assert "config.json" in assert_one_line(error)

    no_template = tmp_path / "ohne-vorlage"
    shutil.copytree(tiny_model_dir, no_template)
    (no_template / "chat_template.jinja").unlink()
    config = json.loads((no_template / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (no_template / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(LLMUnavailableError) as error:
        load_llm(Settings.load(llm="transformers", llm_model_path=no_template))
    assert "no chat template" in assert_one_line(error)
