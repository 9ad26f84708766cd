"""KORA_LLM=llamacpp on the real llama.cpp engine (xllamacpp), with tiny GGUF models this
module writes itself (loopback/tiny_gguf.py): streaming, stopping, exact token counts, the
context limit, two answers at once, the errors a user can cause, auto mode, and the same
engine's OpenAI-compatible HTTP endpoint driven by KORA's ``openai`` backend.

A random model writes nonsense, so assertions are on structure (whole words of its
vocabulary, exactly ``max_tokens`` of them); the scripted model writes a known sentence.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loopback import vocabulary, write_tiny_gguf
from rag.answering import SYSTEM_PROMPT, Answerer, RefusalModel
from rag.answering.prompts import EXTRACTIVE_PREFIX, LLM_ANSWER_UNSUPPORTED, format_sources
from rag.errors import LLMUnavailableError
from rag.providers.llm import LlamaCppChat, Message, OpenAICompatibleChat, choose_llm, load_llm
from rag.providers.llm.gguf_file import GIB, available_memory_bytes
from rag.retrieval import Retriever
from rag.settings import Settings
from tests.conftest import Shipped
from tests.fakes import SCRIPT, corpus_words

pytestmark = pytest.mark.slow

QUESTION = [
    Message("system", "Antworte nur aus den Quellen."),
    Message("user", "Wer hat die URBAN.KI-Jahrestagung 2025 eröffnet?"),
]
SCRIPTED_ANSWER = "Ina Scharrenbach eröffnete die Jahrestagung."


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("gguf")
    words = corpus_words()
    return {
        "random": write_tiny_gguf(folder / "tiny-random.gguf", words=words),
        "scripted": write_tiny_gguf(folder / "tiny-scripted.gguf", words=words,
                                    script=SCRIPT, name="kora-tiny-scripted"),
    }


def llamacpp_settings(monkeypatch: pytest.MonkeyPatch, model: Path, **values: Any) -> Settings:
    """Settings as a user sets them: through the environment."""
    monkeypatch.setenv("KORA_LLM", "llamacpp")
    monkeypatch.setenv("KORA_LLM_MODEL_PATH", str(model))
    for key, value in values.items():
        monkeypatch.setenv(f"KORA_{key.upper()}", str(value))
    return Settings.load()


@pytest.fixture(scope="module")
def random_chat(models: dict[str, Path]) -> Iterator[LlamaCppChat]:
    chat = LlamaCppChat(Settings.load(llm="llamacpp", llm_model_path=models["random"],
                                      llm_context_window=2048, llm_max_tokens=40,
                                      llm_threads=1))
    yield chat
    chat.close()


def assert_one_line(error: pytest.ExceptionInfo[LLMUnavailableError]) -> str:
    message = str(error.value)
    assert message and "\n" not in message
    return message


def test_streams_whole_words_up_to_max_tokens(
    monkeypatch: pytest.MonkeyPatch, models: dict[str, Path]
) -> None:
    settings = llamacpp_settings(monkeypatch, models["random"], llm_max_tokens=24,
                                 llm_context_window=8192, llm_threads=1)
    model, description = load_llm(settings)

    assert isinstance(model, LlamaCppChat)
    assert model.name == "llama.cpp kora-tiny"
    assert model.context_window == 4096  # KORA's 8192 lowered to the model's trained window
    assert description == (
        f"llamacpp: kora-tiny ({models['random']}), context 4096 tokens, 1 thread, "
        "up to 2 answers at once"
    )
    pieces = list(model.stream(QUESTION))

    assert len(pieces) > 1 and all(isinstance(p, str) and p for p in pieces)
    text = "".join(pieces)
    vocabulary = set(corpus_words()) | {".", ",", "?", ":", "-"}
    written = text.replace(",", " , ").replace(".", " . ").split()
    assert written and set(written) <= vocabulary
    # the random model never writes an end token: it stops at max_tokens, and llama.cpp's
    # tokenizer counts those tokens again exactly
    assert model.count_tokens(text.strip()) == 24
    model.close()


def test_exact_token_counts(random_chat: LlamaCppChat) -> None:
    assert random_chat.count_tokens("Jahrestagung Scharrenbach") == 2
    assert random_chat.count_tokens("Jahrestagung, Scharrenbach.") == 4
    assert random_chat.count_tokens("") == 0
    # a word outside the vocabulary falls back to pieces and bytes: more tokens, never an error
    assert random_chat.count_tokens("Xylophonquartett") > 3


def test_scripted_model_writes_its_answer(models: dict[str, Path]) -> None:
    chat = LlamaCppChat(Settings.load(llm="llamacpp", llm_model_path=models["scripted"],
                                      llm_temperature=0.0))
    assert chat.name == "llama.cpp kora-tiny-scripted"
    assert "".join(chat.stream(QUESTION)).strip() == SCRIPTED_ANSWER
    assert chat.engine_metrics()["tokens_predicted_total"] == len(SCRIPT) + 1  # and the end
    chat.close()


def test_closing_the_stream_stops_the_engine(models: dict[str, Path]) -> None:
    chat = LlamaCppChat(Settings.load(llm="llamacpp", llm_model_path=models["random"],
                                      llm_max_tokens=3000, llm_threads=1))
    stream: Any = chat.stream(QUESTION)
    first = [next(stream) for _ in range(3)]
    stream.close()  # what a reader that stops (a closed browser tab) does

    assert all(first)
    deadline = time.monotonic() + 30
    while chat.engine_metrics()["requests_processing"] and time.monotonic() < deadline:
        time.sleep(0.05)
    decoded = chat.engine_metrics()["n_decode_total"]
    time.sleep(0.3)
    # without the cancellation the engine would decode all 3000 tokens
    assert decoded == chat.engine_metrics()["n_decode_total"] < 100
    chat.close()


def test_two_answers_are_written_at_the_same_time(models: dict[str, Path]) -> None:
    chat = LlamaCppChat(Settings.load(llm="llamacpp", llm_model_path=models["random"],
                                      llm_max_tokens=1500, llm_parallel=2, llm_threads=1))
    arrivals: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def ask(who: str) -> None:
        try:
            start.wait()
            for _ in chat.stream(QUESTION):
                with lock:
                    arrivals.append(who)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=ask, args=(who,)) for who in "AB"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not failures
    assert arrivals.count("A") == arrivals.count("B") >= 1400
    order = "".join(arrivals)
    # one after the other would read AAAA…BBBB: here each started before the other ended
    assert order.index("B") < order.rindex("A") and order.index("A") < order.rindex("B")
    # and the engine decoded both in the same batches (continuous batching)
    assert chat.engine_metrics()["n_busy_slots_per_decode"] > 1.5
    chat.close()


def test_a_prompt_beyond_the_context_is_one_clear_line(random_chat: LlamaCppChat) -> None:
    too_long = [Message("user", "Stadt " * 3000)]
    with pytest.raises(LLMUnavailableError) as error:
        list(random_chat.stream(too_long))
    message = assert_one_line(error)
    assert "more than the 2048 tokens of context" in message
    assert "KORA_LLM_CONTEXT_WINDOW" in message and "KORA_TOP_K" in message
    # the engine is still there for the next question
    assert "".join(random_chat.stream(QUESTION)).split()


def test_model_file_errors_are_one_line_each(tmp_path: Path, models: dict[str, Path]) -> None:
    def error_for(path: Path | None, **values: Any) -> str:
        with pytest.raises(LLMUnavailableError) as error:
            load_llm(Settings.load(llm="llamacpp", llm_model_path=path, **values))
        return assert_one_line(error)

    assert "No GGUF model is configured" in error_for(None)
    missing = tmp_path / "fehlt.gguf"
    assert f"The model file {missing} does not exist" in error_for(missing)

    text = tmp_path / "modell.gguf"
    text.write_text("Das ist kein Modell.", encoding="utf-8")
    assert f"{text} is not a GGUF model file" in error_for(text)
    safetensors = tmp_path / "model.safetensors"
    safetensors.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    assert "not a GGUF model file" in error_for(safetensors)

    damaged = tmp_path / "abgebrochen.gguf"
    damaged.write_bytes(models["random"].read_bytes()[:200_000])
    assert "damaged or incomplete" in error_for(damaged)

    unreadable = tmp_path / "gesperrt.gguf"
    shutil.copy(models["random"], unreadable)
    unreadable.chmod(0)
    if os.access(unreadable, os.R_OK):
        # root reads any file whatever its mode; /proc/self/mem is a regular file that
        # fails with an I/O error when read from its start, even for root
        unreadable = Path("/proc/self/mem")
    assert "cannot be read" in error_for(unreadable)

    folder = tmp_path / "modelle"
    folder.mkdir()
    assert "holds no .gguf file" in error_for(folder)
    shutil.copy(models["random"], folder / "a.gguf")
    shutil.copy(models["scripted"], folder / "b.gguf")
    assert "holds 2 .gguf files (a.gguf, b.gguf)" in error_for(folder)


def test_a_model_in_parts_is_found_by_its_folder(tmp_path: Path) -> None:
    """Large GGUF models are published in parts ("…-00001-of-00003.gguf"); llama.cpp
    loads them from the first part, and all parts count towards the memory needed."""
    folder = tmp_path / "geteilt"
    folder.mkdir()
    write_tiny_gguf(folder / "modell.gguf", words=corpus_words(), split_max_tensors=8)
    parts = sorted(folder.iterdir())
    assert [p.name for p in parts] == [f"modell-0000{i}-of-00003.gguf" for i in (1, 2, 3)]

    chat = LlamaCppChat(Settings.load(llm="llamacpp", llm_model_path=folder,
                                      llm_max_tokens=16))
    assert chat.path == parts[0]
    assert chat.info.size_bytes == sum(p.stat().st_size for p in parts)
    assert len("".join(chat.stream(QUESTION)).split()) >= 8
    chat.close()

    parts[1].unlink()
    with pytest.raises(LLMUnavailableError) as error:
        load_llm(Settings.load(llm="llamacpp", llm_model_path=folder))
    message = assert_one_line(error)
    assert "split into 3 parts, but modell-00002-of-00003.gguf is missing" in message


def test_a_model_larger_than_free_memory_is_refused(tmp_path: Path, models: dict[str, Path]) -> None:
    available = available_memory_bytes()
    if available is None:
        pytest.skip("no /proc/meminfo: the memory check only runs on Linux")
    huge = tmp_path / "riesig.gguf"
    shutil.copy(models["random"], huge)
    # a sparse file: it claims its size without taking the disk space
    with huge.open("r+b") as handle:
        handle.truncate(available + 4 * GIB)

    with pytest.raises(LLMUnavailableError) as error:
        load_llm(Settings.load(llm="llamacpp", llm_model_path=huge))
    message = assert_one_line(error)
    assert "kora-tiny (riesig.gguf) needs about" in message
    assert "GiB are free" in message and "smaller model or quantisation" in message


def test_the_context_reserved_for_parallel_answers_counts_too(
    models: dict[str, Path],
) -> None:
    chat = LlamaCppChat(Settings.load(llm="llamacpp", llm_model_path=models["random"]))
    info = chat.info
    chat.close()
    # 2 layers x 4 heads x (16 + 16) dimensions x 2 bytes per token
    assert info.kv_bytes_per_token == 512
    assert info.vocab_size == len(vocabulary(corpus_words())[0])
    # weights, two answers' KV cache, the logits of a 512-token prompt batch, a margin
    assert info.memory_needed(context=4096, parallel=2) == (
        info.size_bytes + 512 * 4096 * 2 + 512 * info.vocab_size * 4 + GIB // 4)


@pytest.fixture
def closed_ollama() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_auto_runs_a_configured_gguf_model_when_no_ollama_answers(
    models: dict[str, Path], closed_ollama: str, tmp_path: Path
) -> None:
    settings = Settings.load(llm="auto", ollama_url=closed_ollama,
                             llm_model_path=models["scripted"], llm_auto_probe_seconds=0.2)
    choice = choose_llm(settings)
    assert (choice.backend, choice.model, choice.context_window) == (
        "llamacpp", "kora-tiny-scripted", 4096)

    model, description = load_llm(settings)

    assert isinstance(model, LlamaCppChat)
    assert description.startswith(f"auto: no Ollama answered at {closed_ollama} within 0.2 s; "
                                  "llama.cpp in-process: kora-tiny-scripted")
    assert "context 4096 tokens" in description
    assert "".join(model.stream(QUESTION)).strip() == SCRIPTED_ANSWER
    model.close()

    broken = tmp_path / "kaputt.gguf"
    broken.write_text("kein Modell", encoding="utf-8")
    model, description = load_llm(settings.model_copy(update={"llm_model_path": broken}))
    assert model is None
    assert "extractive answers, the GGUF model is not used" in description
    assert "is not a GGUF model file" in description and "\n" not in description

    model, description = load_llm(settings.model_copy(update={"llm_model_path": None}))
    assert model is None and description.endswith("extractive answers")
    assert "no GGUF model is configured (KORA_LLM_MODEL_PATH)" in description


# --- the answering path on the real engine ---------------------------------------------

OPENING = "Wer hat die URBAN.KI-Jahrestagung 2025 eröffnet?"


def answerer_on(chat: LlamaCppChat, retriever: Retriever) -> Answerer:
    return Answerer(retriever=retriever, refusal=RefusalModel.load(), llm=chat,
                    llm_required=True, max_answer_tokens=chat.max_tokens)


def test_answering_path_repairs_the_engines_uncited_answer(
    shipped: Shipped, models: dict[str, Path]
) -> None:
    settings, retriever = shipped
    chat = LlamaCppChat(settings.model_copy(update={
        "llm": "llamacpp", "llm_model_path": models["scripted"], "llm_temperature": 0.0}))
    pieces: list[str] = []

    answer = answerer_on(chat, retriever).ask(OPENING, on_token=pieces.append)

    assert "".join(pieces).strip() == SCRIPTED_ANSWER  # streamed as the engine wrote it
    assert (answer.mode, answer.llm, answer.refused) == (
        "llm", "llama.cpp kora-tiny-scripted", False)
    # the model cited nothing; the check found the passage that supports the sentence
    assert answer.answer == f"{SCRIPTED_ANSWER} [1]"
    [sentence] = answer.sentences
    assert sentence.supported and sentence.repaired and sentence.citations == [1]
    assert "Scharrenbach" in answer.citations[0].passage.text
    assert answer.notice == "Quellenangabe für 1 Satz/Sätze ergänzt."
    chat.close()


def test_answering_path_replaces_the_engines_misattribution(
    shipped: Shipped, models: dict[str, Path]
) -> None:
    """The engine's sentence is true of the passage that names Ina Scharrenbach and the
    keynote in different sentences; asked who gave the keynote, it is a misattribution
    that passed the citation check before."""
    settings, retriever = shipped
    chat = LlamaCppChat(settings.model_copy(update={
        "llm": "llamacpp", "llm_model_path": models["scripted"], "llm_temperature": 0.0}))
    pieces: list[str] = []

    answer = answerer_on(chat, retriever).ask(
        "Wer hielt die Keynote auf der URBAN.KI-Jahrestagung?", on_token=pieces.append)

    assert "".join(pieces).strip() == SCRIPTED_ANSWER
    assert (answer.mode, answer.llm_check) == ("extractive", "unsupported")
    assert answer.answer.startswith(EXTRACTIVE_PREFIX) and "Jens Libbe" in answer.answer
    assert "Scharrenbach" not in answer.answer
    assert answer.notice == LLM_ANSWER_UNSUPPORTED
    chat.close()


def test_answering_path_packs_sources_and_replaces_nonsense(
    shipped: Shipped, models: dict[str, Path]
) -> None:
    settings, retriever = shipped
    question = "Welche Prototypen wurden auf der Jahrestagung vorgestellt?"
    results = retriever.search(question, top_k=8)
    packed: dict[int, int] = {}
    for window in (4096, 1024):
        chat = LlamaCppChat(settings.model_copy(update={
            "llm": "llamacpp", "llm_model_path": models["random"], "llm_temperature": 0.0,
            "llm_context_window": window, "llm_max_tokens": 64}))
        answerer = answerer_on(chat, retriever)
        passages = answerer._pack_sources(question, results)
        packed[window] = len(passages)
        prompt = chat.count_tokens(SYSTEM_PROMPT) + chat.count_tokens(
            f"{format_sources(passages)}\n\nFrage: {question}")
        assert prompt + 64 <= window  # exact counts from the engine's own tokenizer
        pieces: list[str] = []
        # the engine takes the packed prompt (an overflow would raise: llm_required)
        answer = answerer.ask(question, top_k=8, on_token=pieces.append)
        assert len("".join(pieces).split()) >= 32  # the random model wrote its nonsense
        # ... which the citation check supports nowhere: the extractive answer replaces it
        assert answer.mode == "extractive" and answer.notice.endswith(LLM_ANSWER_UNSUPPORTED)
        assert answer.answer.startswith(EXTRACTIVE_PREFIX)
        assert all(s.supported for s in answer.sentences)
        chat.close()
    assert packed[4096] == 8 and 1 <= packed[1024] < 8


# --- the same engine over HTTP, through KORA's openai backend ---------------------------


@pytest.mark.usefixtures("no_openai_defaults")
def test_openai_backend_against_the_real_llamacpp_server(models: dict[str, Path]) -> None:
    engine = LlamaCppChat(Settings.load(llm="llamacpp", llm_model_path=models["scripted"],
                                        llm_temperature=0.0))
    assert engine.address.startswith("http://127.0.0.1:")
    settings = Settings.load(llm="openai", openai_base_url=f"{engine.address}/v1",
                             openai_api_key=engine.api_key, llm_model="kora-tiny-scripted",
                             llm_temperature=0.0, llm_max_tokens=64)
    chat = OpenAICompatibleChat(settings)

    pieces = list(chat.stream(QUESTION))

    assert len(pieces) >= len(SCRIPT)  # streamed token by token over server-sent events
    assert "".join(pieces).strip() == SCRIPTED_ANSWER

    wrong_key = OpenAICompatibleChat(settings.model_copy(update={"openai_api_key": "falsch"}))
    with pytest.raises(LLMUnavailableError) as error:
        list(wrong_key.stream(QUESTION))
    message = assert_one_line(error)
    assert "HTTP 401" in message and "KORA_OPENAI_API_KEY" in message
    engine.close()


@pytest.fixture
def no_openai_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """Anything that used the OPENAI_* environment or a tiktoken encoding would fail."""
    import tiktoken

    for name in ("OPENAI_BASE_URL", "OPENAI_API_BASE"):
        monkeypatch.setenv(name, "http://127.0.0.1:9/not-this-one")
    monkeypatch.setenv("OPENAI_API_KEY", "not-this-key")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)

    def no_encoding(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("tiktoken encoding requested (it would be downloaded)")

    monkeypatch.setattr(tiktoken, "get_encoding", no_encoding)
    monkeypatch.setattr(tiktoken, "encoding_for_model", no_encoding)


# --- kora eval --llm --------------------------------------------------------------------


def test_eval_llm_on_the_tiny_model(
    monkeypatch: pytest.MonkeyPatch, models: dict[str, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from ui.cli import main

    llamacpp_settings(monkeypatch, models["scripted"], llm_temperature=0, llm_threads=1)
    monkeypatch.setenv("KORA_DATA_DIR", str(tmp_path / "data"))

    assert main(["eval", "--llm", "--json", "--limit", "3"]) == 0
    result = json.loads(capsys.readouterr().out)

    assert result["llm"].startswith("llamacpp: kora-tiny-scripted")
    assert result["questions"] == 3 and len(result["per_question"]) == 3
    first, *others = result["per_question"]
    # q001 asks who opened the conference, which is what the scripted model always says
    assert first["id"] == "q001" and first["mode"] == "llm"
    assert (first["key_fact_recall"], first["sentences"], first["supported"],
            first["repaired"]) == (1.0, 1, 1, 1)
    # to the other questions (who is the Träger, which research institutes are partners)
    # its sentence is true but no answer: it names someone else than the extractive
    # answer's source sentence, or no sentence of the sources it was given holds it, so
    # the extractive answer replaces it
    for row in others:
        assert (row["mode"], row["replaced"]) == ("extractive", True)
        assert row["llm_check"] in ("disagrees", "unsupported")
        assert row["supported"] == row["sentences"] == 0
    assert result["supported_sentence_share"] == 1.0 == result["repaired_sentence_share"]
    assert result["confidently_wrong"] == 0 and result["fallbacks"] == 2
    assert result["answers_with_fact"] >= 1 and result["extractive_answers_with_fact"] >= 1
    replaced = sum(row["replaced"] for row in result["per_question"])
    assert result["replaced_by_extractive"] == round(replaced / 3, 4)
    assert result["citations_per_answer"] >= 1.0
    assert 0.0 <= result["refused_out_of_scope"] <= 1.0
    assert result["seconds_per_answer"]["max"] >= result["seconds_per_answer"]["mean"] > 0
    assert result["first_piece_seconds_mean"] > 0


def test_eval_llm_needs_an_llm(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    from ui.cli import main

    monkeypatch.setenv("KORA_LLM", "none")
    monkeypatch.setenv("KORA_DATA_DIR", str(tmp_path / "data"))
    assert main(["eval", "--llm", "--limit", "1"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("kora: error: kora eval --llm needs an LLM") and "\n" not in error


def test_status_names_the_model_and_its_context(
    monkeypatch: pytest.MonkeyPatch, models: dict[str, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str], closed_ollama: str,
) -> None:
    import json

    from ui.cli import main

    monkeypatch.setenv("KORA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KORA_LLM_MODEL_PATH", str(models["scripted"]))
    monkeypatch.setenv("KORA_OLLAMA_URL", closed_ollama)
    assert main(["status", "--json"]) == 0  # auto: no Ollama, so the GGUF file
    llm = json.loads(capsys.readouterr().out)["llm"]
    assert {k: llm[k] for k in ("backend", "model", "context_window")} == {
        "backend": "llamacpp", "model": "kora-tiny-scripted", "context_window": 4096}
    assert llm["description"].startswith("auto: no Ollama answered")

    monkeypatch.setenv("KORA_LLM", "llamacpp")
    monkeypatch.setenv("KORA_LLM_MODEL_PATH", str(tmp_path / "fehlt.gguf"))
    assert main(["status"]) == 0  # status reports the problem, it does not fail on it
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("llm: "))
    assert "llamacpp: not usable: The model file" in line and "does not exist" in line
