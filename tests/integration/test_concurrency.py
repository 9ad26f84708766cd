"""Several questions at once in one worker: the answering stack shared by threads gives
every question the answer it gives alone; Gradio runs up to answer_concurrency of them
at a time; LLM generation holds its own, lower limit."""

from __future__ import annotations

import random
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import yaml

from evaluation import GOLDEN_FILE
from tests.conftest import CORPUS
from tests.fakes import FakeChatModel

DOCUMENTS = [
    "konferenzen/jahrestagung-2025.md",
    "initiative/urban-ki.md",
    "prototypen/unna-aviary.md",
    "prototypen/herten-solarpflicht.md",
    "projekte/chatbots-buergerservice.md",
    "projekte/ki-agenten-verwaltung.md",
]


def golden_questions() -> list[str]:
    """Golden-set questions about the documents above, plus out-of-scope ones."""
    data = yaml.safe_load(GOLDEN_FILE.read_text("utf-8"))
    chosen = [q["question"] for q in data["questions"]
              if set(q.get("expected_docs") or []) & set(DOCUMENTS)]
    refused = [q["question"] for q in data["questions"] if not q.get("expected_docs")]
    return chosen[:14] + refused[:4]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Any:
    from ingest.pipeline import Ingestor
    from rag.providers.vectorstore import DataDir
    from rag.settings import Settings

    base = tmp_path_factory.mktemp("concurrency")
    for name in DOCUMENTS:
        (base / "corpus" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(CORPUS / name, base / "corpus" / name)
    settings = Settings.load(data_dir=base / "data", corpus_dir=base / "corpus", llm="none",
                             answer_concurrency=4)
    Ingestor(settings, embedder, DataDir(settings)).run()
    return settings


def summary(answer: Any) -> tuple[Any, ...]:
    return (answer.answer, answer.refused, answer.mode,
            tuple((c.n, c.passage.doc_id, c.passage.location, c.passage.text) for c in answer.citations),
            tuple(sorted(answer.evidence.items())))


@pytest.mark.slow
def test_threads_get_the_answers_a_single_thread_gets(indexed: Any, embedder: Any) -> None:
    from rag.answering import Assistant

    questions = golden_questions()
    assert len(questions) >= 12
    assistant = Assistant.open(indexed, embedder=embedder)
    try:
        alone = {q: summary(assistant.answerer.ask(q)) for q in questions}
        asked = questions * 3
        random.Random(11).shuffle(asked)
        with ThreadPoolExecutor(max_workers=8) as pool:
            together = list(pool.map(lambda q: (q, summary(assistant.answerer.ask(q))), asked))
    finally:
        assistant.close()
    assert sum(not alone[q][1] for q in questions) >= 10  # most are answered, with citations
    for question, result in together:
        assert result == alone[question], question


@pytest.fixture(scope="module")
def counting_app(indexed: Any, embedder: Any) -> Iterator[Any]:
    """The real app whose answerer records how many questions it answers at once."""
    from rag.answering import Assistant
    from tests.webapp import start_app
    from ui.app import build_app

    lock = threading.Lock()
    state = {"active": 0, "peak": 0}

    def factory(settings: Any, data_dir: Any, shared: Any) -> Any:
        assistant = Assistant.open(settings, data_dir=data_dir, embedder=embedder)
        ask = assistant.answerer.ask

        def counted(*args: Any, **kwargs: Any) -> Any:
            with lock:
                state["active"] += 1
                state["peak"] = max(state["peak"], state["active"])
            try:
                time.sleep(0.5)  # long enough for the queued requests to pile up
                return ask(*args, **kwargs)
            finally:
                with lock:
                    state["active"] -= 1

        assistant.answerer.ask = counted  # type: ignore[method-assign]
        return assistant

    demo: Any = build_app(indexed, assistant_factory=factory)
    demo.kora_state = state
    yield start_app(demo, indexed)
    demo.shared.close()
    demo.close()
    demo.feedback.close()


@pytest.mark.slow
def test_the_app_answers_up_to_answer_concurrency_questions_at_once(counting_app: Any) -> None:
    from gradio_client import Client

    question = "Wer hat die URBAN.KI-Jahrestagung 2025 eröffnet?"

    def ask(_: int) -> str:
        client = Client(counting_app.kora_url, verbose=False)
        answer, _, _ = client.predict(question, "alle", api_name="/frage")
        return str(answer)

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(ask, range(10)))
    assert all("Scharrenbach" in answer for answer in answers)
    assert 2 <= counting_app.kora_state["peak"] <= 4  # KORA_ANSWER_CONCURRENCY=4


def test_llm_generation_is_bounded_apart() -> None:
    from rag.answering import LLMSlots

    # records how many streams run at once (no server)
    model = FakeChatModel(name="langsam", default=["Eine ", "Antwort ", "[1]."], delay=0.05)
    bounded = LLMSlots(2).bound(model)
    assert (bounded.name, bounded.context_window) == ("langsam", 4096)
    with ThreadPoolExecutor(max_workers=6) as pool:
        texts = list(pool.map(lambda _: "".join(bounded.stream([])), range(12)))
    assert texts == ["Eine Antwort [1]."] * 12
    assert 1 <= model.peak <= 2
    # a reader that stops early gives its slot back
    abandoned = bounded.stream([])
    next(abandoned)
    abandoned.close()
    assert "".join(bounded.stream([])) == "Eine Antwort [1]."
