"""The embedder's similarity floor, on the real model."""

from __future__ import annotations

import pytest

from rag.providers.embedding import Embedder

pytestmark = pytest.mark.slow


def test_similarity_floor_is_the_models_cosine_of_unrelated_sentences(embedder: Embedder) -> None:
    # e5 gives unrelated sentences cosines around 0.83: a fixed threshold of 0.6 would
    # let any sentence on the topic pass the citation check
    floor = embedder.similarity_floor()
    assert 0.7 < floor < 0.95
    assert embedder.similarity_floor() == floor  # computed once
    claim, source, other = embedder.embed_sentences([
        "Die Jahrestagung wurde von Ina Scharrenbach eröffnet.",
        "Ministerin Ina Scharrenbach eröffnete die Jahrestagung in Gelsenkirchen.",
        "Die Buslinie 7 fährt ab Montag im Zehn-Minuten-Takt.",
    ])
    close = sum(a * b for a, b in zip(claim, source, strict=True))
    far = sum(a * b for a, b in zip(claim, other, strict=True))
    assert close > floor + 0.3 * (1 - floor) > far
