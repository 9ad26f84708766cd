"""What a German question asks for, which sentences may be quoted, and how the answer is
marked: the pure parts of extractive answering (end to end: tests/integration/test_extractive_answers.py)."""

from __future__ import annotations

import pytest

from rag.answering.extractive import sentence_units, stands_alone
from rag.answering.question_kinds import (
    Expected,
    counted_noun,
    expected_answer,
    find_expressions,
    focus_noun,
)


@pytest.mark.parametrize(("question", "expected"), [
    ("Wie viele Prototypen wurden auf der Jahrestagung vorgestellt?", Expected.COUNT),
    ("Wie oft tagt der Ausschuss?", Expected.COUNT),
    ("Welche drei Kommunen werden vorgestellt?", Expected.PLACE),
    ("Wie hoch ist die Förderung für das Projekt?", Expected.AMOUNT),
    ("Was kostet der Chatbot den Kreis im Jahr?", Expected.AMOUNT),
    ("Wie viel Prozent der Kommunen nutzen KI?", Expected.PERCENT),
    ("Wie alt ist die Ministerin?", Expected.AGE),
    ("Wie lange dauert die Pilotphase?", Expected.DURATION),
    ("Wann wurde der Prototyp vorgestellt?", Expected.DATE),
    ("Seit wann gibt es den Bürgerservice-Chatbot?", Expected.DATE),
    ("Bis wann läuft das Forschungsprojekt?", Expected.DATE),
    ("In welchem Jahr begann die Initiative?", Expected.DATE),
    ("Wer hat die Tagung eröffnet?", Expected.WHO),
    ("Von wem wurde der Chatbot entwickelt?", Expected.WHO),
    ("Welche Hochschulen forschen an Sprachmodellen?", Expected.WHO),
    ("Wo ist der Quellcode veröffentlicht?", Expected.PLACE),
    ("In welcher Stadt fand die Tagung statt?", Expected.PLACE),
    ("Was macht der Prototyp in Herten?", Expected.DESCRIPTION),
    ("Warum reicht eine manuelle Kontrolle nicht aus?", Expected.DESCRIPTION),
    ("Wie funktioniert die Luftbildauswertung?", Expected.DESCRIPTION),
    ("Welche Aufgaben übernehmen KI-Agenten?", Expected.DESCRIPTION),
    ("Wie heißt das Vorhaben, das vorhersagt, wann Leute den Bus bestellen?",
     Expected.DESCRIPTION),
])
def test_what_a_question_asks_for(question: str, expected: Expected) -> None:
    assert expected_answer(question) is expected


@pytest.mark.parametrize(("sentence", "expected", "found"), [
    ("Im Mittelpunkt standen die neun Prototypen der Initiative.", Expected.COUNT, ["neun"]),
    ("Der Kreis zahlt 12.000 Euro im Jahr für den Betrieb.", Expected.AMOUNT, ["12.000 Euro"]),
    ("Rund 30 % der Kommunen erproben bereits KI.", Expected.PERCENT, ["30 %"]),
    ("Die Tagung fand am 28. November 2025 statt.", Expected.DATE, ["28. November 2025"]),
    ("Eröffnet wurde die Tagung von Ministerin Ina Scharrenbach.", Expected.WHO,
     ["Ministerin Ina Scharrenbach"]),
    ("Die Projektleitung liegt bei Prof. Tobias Urban.", Expected.WHO, ["Prof. Tobias Urban"]),
    ("Der Quellcode liegt bei der Stadt Gelsenkirchen.", Expected.PLACE, ["Gelsenkirchen"]),
    ("Der Prototyp wurde vorgestellt und diskutiert.", Expected.COUNT, []),
    ("Die Anmeldung erfolgte 2025 online.", Expected.COUNT, []),  # a year is not a count
])
def test_expressions_of_the_asked_kind(sentence: str, expected: Expected,
                                       found: list[str]) -> None:
    spans = find_expressions(sentence, expected)
    texts = [sentence[s.start : s.end].strip(" .") for s in spans]
    for wanted in found:
        assert any(wanted == text or wanted in text for text in texts), texts
    if not found:
        assert texts == []


def test_counted_and_focus_nouns() -> None:
    assert counted_noun("Wie viele neue Stellen schafft der Kreis?") == "Stellen"
    assert counted_noun("Wie viele Prototypen gab es?") == "Prototypen"
    assert focus_noun("Welches Sprachmodell steckt hinter dem Chatbot?") == "Sprachmodell"
    assert focus_noun("Wie war das Wetter bei der Tagung?") == "Wetter"
    assert focus_noun("Welche Stadt hat das entwickelt?") is None  # a kind, not a topic


@pytest.mark.parametrize(("sentence", "alone"), [
    ("Die Stadt Herten entwickelt einen Prototyp, der die Solarpflicht überprüft.", True),
    ("## Ausgangslage", False),
    ("Ausgangslage", False),
    ("Beteiligt sind:", False),
    ("Stadt Herten.", False),
    ("Von Maria Muster | 12.03.2025", False),
    ("Quelle: Pressestelle der Stadt", False),
    ("© 2025 Stadt Musterhausen", False),
    ("Startseite › Rathaus › Aktuelles › Rufbus", False),
    ("Teilen Drucken Mehr erfahren nach oben", False),
    ("Neue Öffnungszeiten im Bürgerbüro ab dem kommenden Montag", False),  # a headline
    ("Fahrgäste bestellen den Bus per App oder Telefon und werden an der Haustür abgeholt",
     True),  # a list item without a full stop
])
def test_which_sentences_stand_alone(sentence: str, alone: bool) -> None:
    assert stands_alone(sentence) is alone


def test_a_list_comes_with_its_introduction() -> None:
    text = ("Der Prototyp soll vor drei Arten von Ereignissen warnen:\n\n- Brände,\n"
            "- Industrieunfälle und\n- Schadstofffreisetzungen.\n\nDer Fall gehört zum "
            "Bevölkerungsschutz.")
    units = sentence_units(text)
    assert units[0].text == ("Der Prototyp soll vor drei Arten von Ereignissen warnen: "
                             "Brände, Industrieunfälle und Schadstofffreisetzungen.")
    assert (units[0].first, units[0].last) == (0, 3)
    assert units[1].text == "Der Fall gehört zum Bevölkerungsschutz."
    assert stands_alone(units[0].text)


def test_the_answer_is_marked_in_chat_and_source() -> None:
    from rag.answering import Answer
    from rag.answering.results import AnswerMode, CheckedSentence, Citation
    from rag.passage import Passage
    from ui.render import render_answer, render_sources

    text = "Im Mittelpunkt standen die neun Prototypen der Initiative."
    passage = Passage("c#0", "bericht.md", "Bericht", "", "Teil 2", "2025-11-28",
                      "konferenzbericht", f"Vorher. {text} Danach.", 0, 60, 0.9)
    answer = Answer(question="Wie viele Prototypen?", standalone_question="Wie viele?",
                    answer=f"{text} [1]", mode=AnswerMode.EXTRACTIVE, llm=None,
                    citations=[Citation(1, passage)], highlights=["neun"])
    answer.sentences = [CheckedSentence(text=text, citations=[1], supported=True, lexical=1.0,
                                        semantic=None)]
    assert "<strong>neun</strong>" in render_answer(answer)
    assert '<strong class="kora-antwort">neun</strong>' in render_sources(answer)
