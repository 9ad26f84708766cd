"""Questions as staff type them: colloquial forms, typos, lower case, the kinds of answer
they ask for, the instance they pin, and what a refusal still shows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.answering.normalise import QuestionNormaliser, colloquial_to_written
from rag.answering.question_kinds import (
    Expected,
    asks_for_next,
    expected_answer,
    find_expressions,
    instance_pins,
    states_future,
)
from rag.answering.sentence_model import looks_like_caption
from rag.providers.embedding import Embedder
from rag.providers.keyword import Vocabulary
from tests.conftest import Shipped

TEXT = (
    "Zum Fachtag kamen rund 150 Teilnehmende. Die Stadt Kassel und der Landkreis Kassel "
    "arbeiten zusammen. Das Bürgerbüro öffnet früh. Die KI der Teilnehmer prüft Anträge. "
    "Die Teilnehmer lobten die Organisation. Die Teilnehmer waren zufrieden."
)


def normaliser(text: str = TEXT) -> QuestionNormaliser:
    # Zipf 0 for every word: nothing counts as known German, so only the vocabulary decides
    return QuestionNormaliser(Vocabulary.of([text]), lambda word: 0.0)


@pytest.mark.parametrize(("typed", "written"), [
    ("wieviele leute warn beim fachtag", "wie viele leute waren beim fachtag"),
    ("gibts ne app dafür", "gibt es ne app dafür"),
    ("mit was arbeitet airguard", "womit arbeitet airguard"),
    ("vor was soll das system warnen", "wovor soll das system warnen"),
    ("für was is das gut", "wofür ist das gut"),
    ("an was für einem projekt", "an was für einem projekt"),  # "was für" stays
])
def test_colloquial_forms_are_read_as_written(typed: str, written: str) -> None:
    assert colloquial_to_written(typed) == written


def test_typos_and_plain_umlauts_are_read_against_the_index_vocabulary() -> None:
    read = normaliser().normalise("wie viele teilnemer hatte der fachtag im buergerbuero")
    assert "Teilnehmer" in read.text
    assert "Bürgerbüro" in read.text
    assert ("teilnemer", "teilnehmer") in read.corrections


def test_lower_case_words_get_the_capitals_the_documents_give_them() -> None:
    read = normaliser().normalise("was macht die stadt kassel mit ki")
    assert read.text == "was macht die Stadt Kassel mit KI"


def test_a_word_with_two_equally_close_corrections_is_left_alone() -> None:
    vocabulary_text = "Der Rasen ist grün. Die Rosen sind rot. Die Rasen wachsen."
    n = QuestionNormaliser(Vocabulary.of([vocabulary_text + " Rosen blühen."]), lambda w: 0.0)
    # "rasen" and "rosen" are both one edit from "risen" and equally frequent
    assert n.correct("risen") == "risen"


def test_no_rule_needs_capital_letters_in_the_question() -> None:
    assert expected_answer("welche funktion hat anna beispiel") is Expected.ROLE
    assert expected_answer("wie ist die telefonnummer vom bürgeramt") is Expected.CONTACT
    assert expected_answer("wie zufrieden sind die nutzer mit der app") is Expected.RATING
    assert expected_answer("wieviel hat der chatbot gekostet") is Expected.AMOUNT
    assert expected_answer("wie viele leute kamen zum fachtag") is Expected.COUNT


@pytest.mark.parametrize(("sentence", "kind", "expected"), [
    ("Das Land gibt fünf Millionen Euro dazu.", Expected.AMOUNT, "fünf Millionen Euro"),
    ("Es kamen rund zweihundert Gäste.", Expected.COUNT, "zweihundert"),
    ("Ein Drittel der Anträge kam online.", Expected.PERCENT, "Ein Drittel"),
    ("Anna Beispiel, Leiterin des Bürgeramts, eröffnete die Tagung.", Expected.ROLE,
     "Leiterin des Bürgeramts"),
    ("Fragen an buergeramt@example.org oder 0231 12345-67.", Expected.CONTACT,
     "buergeramt@example.org"),
])
def test_numbers_in_words_roles_and_contacts_are_found(sentence: str, kind: Expected,
                                                       expected: str) -> None:
    found = [sentence[f.start : f.end] for f in find_expressions(sentence, kind)]
    assert expected in found


def test_stadt_and_landkreis_of_the_same_name_are_two_instances() -> None:
    # as the normaliser gives it back: the documents capitalise "Stade"
    (pin,) = instance_pins("welchen Chatbot hat der Landkreis Stade")
    assert not pin.holds("Die Hansestadt Stade bietet den Chatbot Knut an.")
    assert pin.holds("Der Landkreis Stade bietet einen Chatbot an.")
    assert not pin.holds("Stade bietet einen Chatbot an.")  # which Stade?
    assert instance_pins("welcher Kreis bietet eine Beratung an") == []  # the unit asked for
    (year,) = instance_pins("wie viele kamen zum fachtag 2023")
    assert not year.holds("Zum Fachtag 2024 kamen 185 Gäste.")


def test_next_asks_for_a_future_date() -> None:
    assert asks_for_next("wann ist der nächste fachtag")
    assert not asks_for_next("wann war der fachtag")
    assert states_future("Der nächste Fachtag findet im Mai 2027 statt.", this_year=2026)
    assert not states_future("Der Fachtag fand im Mai 2025 statt.", this_year=2026)


def test_captions_and_bylines_read_as_such() -> None:
    assert looks_like_caption("4. Februar 2025, 09:30 Uhr | Pressestelle Kreis Unna")
    assert looks_like_caption("Foto: Stadt Herten")
    assert not looks_like_caption("Zum Fachtag kamen rund 150 Teilnehmende.")


def test_a_date_line_is_never_the_title_of_a_text_file(tmp_path: Path) -> None:
    from ingest.readers.text import read

    page = tmp_path / "meldung.txt"
    page.write_text("Montag, 3. März 2025\n\nFachtag Digitalisierung im Kreis\n\n"
                    "Zum Fachtag kamen rund 150 Teilnehmende.\n", encoding="utf-8")
    assert read(page).title == "Fachtag Digitalisierung im Kreis"
    byline = tmp_path / "pressemitteilung.txt"
    byline.write_text("4. Februar 2025, 09:30 Uhr | Pressestelle\n\nDer Kreis startet die "
                      "neue App für Anträge, die ab sofort verfügbar ist.\n", encoding="utf-8")
    assert "2025" not in read(byline).title
    # a press release: a kicker, then place and date, then the headline (Windows-1252)
    release = tmp_path / "pressemitteilung-telefon.txt"
    release.write_bytes("Pressemitteilung der Gemeinde Oberweißach\nOberweißach, 14. März 2026"
                        "\n\nKI-Telefonassistent geht in den Testbetrieb\n\nAb dem 1. April "
                        "nimmt ein Assistent Anrufe entgegen.\n".encode("cp1252"))
    parsed = read(release)
    assert parsed.title == "KI-Telefonassistent geht in den Testbetrieb"
    assert parsed.date == "2026-03-14"


@pytest.mark.parametrize(("question", "kind"), [
    # a compound that begins with a contact word is about that thing, not a contact
    ("Wann startet der Telefonassistent in Oberweißach?", Expected.DATE),
    ("was kostet der telefonassistent", Expected.AMOUNT),
    ("wie funktioniert das E-Mail-Postfach mit KI", Expected.DESCRIPTION),
    ("wie lang läuft der testbetrieb vom telefonassistent", Expected.DURATION),
    ("welche telefonnummer hat das bürgerbüro", Expected.CONTACT),
    ("wie erreiche ich das amt telefonisch", Expected.CONTACT),
    ("tel. nummer vom amt?", Expected.CONTACT),
    ("wer ist ansprechpartnerin für das projekt", Expected.CONTACT),
    ("welche öffnungszeiten hat das bürgerbüro", Expected.CONTACT),
])
def test_contact_questions_are_those_that_name_a_contact_detail(question: str,
                                                                kind: Expected) -> None:
    assert expected_answer(question) is kind


# --- over the shipped corpus, with the real model and index ---------------------------


@pytest.mark.slow
def test_role_question_in_lower_case_is_answered_with_the_role(shipped: Shipped) -> None:
    answer = _ask(shipped, "welche funktion hat andree pruin")
    assert not answer.refused
    assert "Digitalisierungsbeauftragter" in answer.answer
    assert any("Digitalisierungsbeauftragter" in c.passage.text for c in answer.citations)


@pytest.mark.slow
@pytest.mark.parametrize("question", [
    "wann is die nächste urban.ki jahrestagung",
    "telefonnummer der kaaw",
    "welchen chatbot hat der landkreis stade",
])
def test_near_misses_are_refused_and_show_the_nearest_passages(shipped: Shipped,
                                                               question: str) -> None:
    from rag.answering import NEAREST_HEADER

    answer = _ask(shipped, question)
    assert answer.refused
    assert answer.nearest, "the topic is there: the closest passages must be shown"
    assert NEAREST_HEADER in answer.answer
    assert not answer.citations
    payload = answer.as_json()
    assert payload["refused"] is True
    assert payload["nearest"][0]["doc_id"] and payload["nearest"][0]["sentence"]


@pytest.mark.slow
def test_unrelated_question_is_refused_without_nearest_passages(shipped: Shipped) -> None:
    answer = _ask(shipped, "wie back ich nen apfelkuchen mit streuseln")
    assert answer.refused
    assert not answer.nearest


def _ask(shipped: Shipped, question: str):  # type: ignore[no-untyped-def]
    from rag.answering import Answerer, RefusalModel

    settings, retriever = shipped
    answerer = Answerer(retriever=retriever, refusal=RefusalModel.load(), llm=None,
                        llm_required=False, max_answer_tokens=settings.llm_max_tokens)
    return answerer.ask(question)


# --- a city's own documents, added as an admin adds them -------------------------------

_RELEASE = (
    "Pressemitteilung der Gemeinde Talbach\nTalbach, 9. Februar 2026\n\n"
    "Sprachassistent am Telefon des Bürgerbüros\n\n"
    "Ab dem 2. März 2026 beantwortet ein KI-gestützter Telefonassistent Anrufe beim "
    "Bürgerbüro Talbach außerhalb der Sprechzeiten. Er nennt Unterlagen für Ausweise und "
    "bucht Termine.\n\n"
    "Der Versuch dauert ein halbes Jahr. Die Kosten von 12.400 Euro übernimmt zur Hälfte "
    "das Land. Gespräche werden nicht gespeichert.\n\n"
    "Ansprechpartner ist Herr Tobias Kern, Hauptamt, E-Mail hauptamt@talbach.example.\n")
_GUIDELINE = (
    "---\ntitle: Richtlinie zum Einsatz von KI-Werkzeugen im Landratsamt Seeberg\n"
    "date: 2025-07-01\n---\n# Richtlinie zum Einsatz von KI-Werkzeugen\n\n## Schulung\n\n"
    "Wer KI-Werkzeuge dienstlich nutzt, absolviert zuvor den Onlinekurs „KI im Amt“. "
    "Er dauert rund 30 Minuten. Der Kurs ist im Lernportal des Landratsamts hinterlegt.\n\n"
    "## Daten\n\nNamen und Anschriften von Antragstellenden gehören in keine "
    "Eingabemaske eines KI-Werkzeugs.\n")


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Any]:
    from ingest.pipeline import Ingestor
    from rag.answering import Assistant
    from rag.providers.vectorstore import DataDir
    from rag.settings import Settings

    base = tmp_path_factory.mktemp("city")
    corpus = base / "corpus"
    corpus.mkdir()
    # saved from a Windows office suite, as press releases often are
    (corpus / "pressemitteilung-telefonassistent.txt").write_bytes(_RELEASE.encode("cp1252"))
    (corpus / "richtlinie-ki.md").write_text(_GUIDELINE, encoding="utf-8")
    settings = Settings.load(data_dir=base / "data", corpus_dir=corpus, llm="none")
    data_dir = DataDir(settings)
    Ingestor(settings, embedder, data_dir).run([corpus])
    assistant = Assistant.open(settings, data_dir=data_dir, embedder=embedder)
    yield assistant
    assistant.close()


@pytest.mark.slow
def test_a_press_release_keeps_its_headline_and_date(city: Any) -> None:
    answer = city.answerer.ask("wann startet der telefonassistent in talbach")
    assert not answer.refused
    first = answer.answer.split("\n")[1]  # after the line that names the answer mode
    assert "2. März 2026" in first, answer.answer
    cited = answer.citations[0].passage
    assert cited.title == "Sprachassistent am Telefon des Bürgerbüros"
    assert "Stand: 09.02.2026" in answer.answer


@pytest.mark.slow
def test_a_compound_with_a_contact_word_is_not_a_contact_question(city: Any) -> None:
    answer = city.answerer.ask("was kostet der telefonassistent")
    assert not answer.refused
    assert "12.400 Euro" in answer.answer.split("\n")[1], answer.answer


@pytest.mark.slow
def test_a_sentence_quoted_as_antecedent_is_not_repeated(city: Any) -> None:
    answer = city.answerer.ask("wie lange dauert der onlinekurs")
    assert not answer.refused
    assert "30 Minuten" in answer.answer
    lines = [line for line in answer.answer.split("\n")[1:] if line.strip()]
    sentences = [s for line in lines for s in re.split(r"(?<=\.) ", re.sub(r" \[\d+\].*", "", line))]
    assert len(sentences) == len(set(sentences)), answer.answer
