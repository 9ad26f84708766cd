"""Extractive answers on the shipped corpus, end to end: quoted sentences with citations,
the JSON contract, the fact leading, follow-ups (the pure parts:
tests/unit/test_extractive_parts.py)."""

from __future__ import annotations

import pytest

from rag.answering import Answerer
from rag.answering.prompts import EXTRACTIVE_PREFIX

pytestmark = pytest.mark.slow


def test_extractive_answer_quotes_sentences_with_citations(answerer: Answerer) -> None:
    answer = answerer.ask("Wer hat die URBAN.KI-Jahrestagung 2025 eröffnet?")
    assert not answer.refused
    assert answer.mode == "extractive"
    assert answer.answer.startswith(EXTRACTIVE_PREFIX)
    assert "Ina Scharrenbach" in answer.answer
    assert answer.citations[0].passage.doc_id == "konferenzen/jahrestagung-2025.md"
    # every [n] in the answer names a listed citation whose passage holds the sentence
    by_number = {c.n: c for c in answer.citations}
    for sentence in answer.sentences:
        for n in sentence.citations:
            assert sentence.text in " ".join(by_number[n].passage.text.split()).replace("**", "")
    assert len(answer.sentences) <= 3


def test_answer_json_contract(answerer: Answerer) -> None:
    data = answerer.ask("Wie viele Teilnehmende hatte die Jahrestagung?").as_json()
    assert {"question", "answer", "refused", "mode", "citations"} <= set(data)
    citation = data["citations"][0]
    assert set(citation) >= {"n", "doc_id", "title", "source", "location", "date", "text",
                             "score"}
    assert "200" in data["answer"]
    assert citation["date"] == "2025-11-28"


def test_follow_up_carries_the_previous_topic(answerer: Answerer) -> None:
    first = answerer.ask("Welcher Prototyp erstellt Prognosen für den Bedarf an Rufbussen?")
    assert first.citations[0].passage.doc_id == "prototypen/osnabrueck-aimos.md"
    follow_up = answerer.ask("Und wer ist dort beteiligt?", history=[first.as_turn()])
    assert "Rufbus" in follow_up.standalone_question
    assert not follow_up.refused
    assert follow_up.citations[0].passage.doc_id == "prototypen/osnabrueck-aimos.md"
    alone = answerer.ask("Und wer ist dort beteiligt?")
    assert alone.standalone_question == "Und wer ist dort beteiligt?"


@pytest.mark.parametrize(("question", "lead", "facts", "mark"), [
    # the number leads, not the sentences that only repeat "vorgestellt"
    ("Wie viele Prototypen wurden auf der URBAN.KI-Jahrestagung vorgestellt?",
     "neun Prototypen", ["neun"], "neun"),
    # what the prototype does, not who took part
    ("Was macht der Prototyp in Herten?", None, ["Solarpflicht", "Luftbildern"], None),
    # a list comes with its introduction
    ("Vor welchen Ereignissen soll AirGuardAI warnen?", "Brände",
     ["Industrieunfälle", "Schadstofffreisetzungen"], None),
    ("Wann fand die URBAN.KI-Jahrestagung 2025 statt?", "28. November 2025", [],
     "28. November 2025"),
    ("Wer hat die URBAN.KI-Jahrestagung 2025 eröffnet?", "Scharrenbach", [], "Scharrenbach"),
])
def test_extractive_answer_leads_with_the_fact(
    answerer: Answerer, question: str, lead: str | None, facts: list[str], mark: str | None
) -> None:
    answer = answerer.ask(question)
    assert not answer.refused, answer.evidence
    lines = answer.answer.splitlines()[1:]
    assert 1 <= len(lines) <= 3
    for fact in facts:
        assert fact in answer.answer
    # every quoted sentence stands in the passage it cites
    cited = {c.n: " ".join(c.passage.text.replace("*", "").split()) for c in answer.citations}
    for sentence in answer.sentences:
        first_words = " ".join(sentence.text.split()[:4])
        assert first_words in cited[sentence.citations[0]], sentence.text
    if lead:
        assert lead in lines[0], answer.answer
        assert lead in cited[answer.sentences[0].citations[0]]
    if mark:
        assert any(mark in h for h in answer.highlights), answer.highlights
