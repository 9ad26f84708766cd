"""The in-process fake chat model (tests/fakes.py) keeps KORA's ``ChatModel`` contract:
enqueued replies in order, the default when none is queued, otherwise the adapters'
one-line failure."""

from __future__ import annotations

import pytest

from rag.errors import LLMUnavailableError
from rag.providers.llm.base import ChatModel, Message
from tests.fakes import FakeChatModel


def test_replies_come_in_the_order_they_were_enqueued() -> None:
    model: ChatModel = FakeChatModel(default=["Dazu steht nichts in den Dokumenten."])
    assert isinstance(model, FakeChatModel)
    model.enqueue(["Antwort ", "[1]."])
    model.enqueue(["Zweite [2]."])
    question = [Message(role="user", content="Wer?")]
    assert list(model.stream(question)) == ["Antwort ", "[1]."]
    assert "".join(model.stream(question)) == "Zweite [2]."
    assert "".join(model.stream(question)) == "Dazu steht nichts in den Dokumenten."
    assert model.prompts == [question] * 3
    assert model.count_tokens("abcdef") >= 2


def test_without_a_reply_it_fails_like_an_adapter() -> None:
    model = FakeChatModel()
    with pytest.raises(LLMUnavailableError, match="no reply enqueued"):
        "".join(model.stream([]))
    assert model.active == 0
