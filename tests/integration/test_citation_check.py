"""The citation check on passages retrieved from the shipped corpus: unknown numbers
removed, unsupported claims marked, paraphrases passing."""

from __future__ import annotations

import pytest

from rag.answering import UNSUPPORTED_MARK, TermWeights
from rag.answering.citations import CitationChecker
from rag.providers.embedding import Embedder
from tests.conftest import Shipped

pytestmark = pytest.mark.slow


def test_citation_check_removes_unknown_numbers_and_marks_unsupported(shipped: Shipped, embedder: Embedder) -> None:
    _, retriever = shipped
    passages = [r.passage for r in retriever.search(
        "Wer hat die URBAN.KI-Jahrestagung 2025 eröffnet?", top_k=3)]
    opening = next(i for i, p in enumerate(passages, start=1) if "Scharrenbach" in p.text)
    checker = CitationChecker(TermWeights(retriever.keyword, retriever.analyzer), embedder)
    answer = (
        f"Die Jahrestagung wurde von Ina Scharrenbach eröffnet [{opening}]. "
        "Die Ministerin kündigte ein Budget von 40 Millionen Euro für Schulen an "
        f"[{opening}]. "
        "Laut Bericht gab es auch eine Keynote [7]."
    )
    checked = checker.check(answer, passages)
    assert checked.removed_citations == [7]
    assert [s.citations for s in checked.sentences][:2] == [[opening], [opening]]
    assert [s.supported for s in checked.sentences][:2] == [True, False]
    # the sentence that cited no provided source is repaired to the passage that
    # mentions the keynote, when one of the retrieved passages does
    keynote = [i for i, p in enumerate(passages, start=1) if "Keynote" in p.text]
    third = checked.sentences[2]
    if keynote:
        assert third.citations == keynote[:1] and third.supported and third.repaired
    else:
        assert third.citations == [] and not third.supported
    rendered = checked.render({n: n for n in range(1, len(passages) + 1)})
    assert "[7]" not in rendered
    assert rendered.count(UNSUPPORTED_MARK) == (1 if keynote else 2)
    assert rendered.startswith(
        f"Die Jahrestagung wurde von Ina Scharrenbach eröffnet. [{opening}]")


def test_paraphrased_supported_sentence_passes_the_check(shipped: Shipped, embedder: Embedder) -> None:
    _, retriever = shipped
    passages = [r.passage for r in retriever.search("Teilnehmende Jahrestagung 2025", top_k=3)]
    n = next(i for i, p in enumerate(passages, start=1) if "200" in p.text)
    checker = CitationChecker(TermWeights(retriever.keyword, retriever.analyzer), embedder)
    checked = checker.check(
        f"An der Jahrestagung nahmen rund 200 Menschen aus Kommunen, Politik und Forschung "
        f"teil [{n}].", passages)
    assert checked.sentences[0].supported
    wrong_number = checker.check(
        f"An der Jahrestagung nahmen rund 500 Menschen teil [{n}].", passages)
    assert not wrong_number.sentences[0].supported
