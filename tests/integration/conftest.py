"""Fixtures the integration modules on the shipped corpus share (the session-wide ones,
the embedder and the shipped index, are in tests/conftest.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from rag.answering import Answerer
    from tests.conftest import Shipped


@pytest.fixture(scope="module")
def answerer(shipped: Shipped) -> Answerer:
    """Extractive answers (no LLM) over the shipped index, with the fitted refusal model;
    a test that swaps its refusal model puts the old one back."""
    from rag.answering import Answerer, RefusalModel

    _, retriever = shipped
    return Answerer(retriever=retriever, refusal=RefusalModel.load(), llm=None,
                    llm_required=False, max_answer_tokens=512)
