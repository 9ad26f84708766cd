"""Questions as typed: decoded, cleaned, bounded (rag/answering/questions.py)."""

from __future__ import annotations

import os

import pytest

from rag.answering import EmptyQuestionError, clean_question
from rag.answering.questions import MAX_QUESTION_CHARS
from rag.errors import UsageError


def argv_text(raw: bytes) -> str:
    """What Python makes of command-line bytes on a UTF-8 system (PEP 383)."""
    return os.fsdecode(raw)


@pytest.mark.parametrize("raw, expected", [
    (b"Stra\xdfe", "Straße"),  # Latin-1 terminal
    (b"Wer pr\xfcft die Stra\xdfen?", "Wer prüft die Straßen?"),
    (b"\x84Zitat\x93 kostet 5 \x80", "„Zitat“ kostet 5 €"),  # Windows-1252 quotes and euro
    ("Grüße aus Köln ".encode() + b"und M\xfcnchen", "Grüße aus Köln und München"),  # mixed
    (b"Byte \x81 ohne Zeichen", "Byte ohne Zeichen"),  # undefined in cp1252: a C1 control
])
def test_undecodable_argv_bytes_are_read_as_windows_1252(raw: bytes, expected: str) -> None:
    text = argv_text(raw)
    assert any("\udc80" <= char <= "\udcff" for char in text)  # really undecodable
    question, notice = clean_question(text)
    assert question == expected and notice == ""
    assert clean_question(raw)[0] == expected  # bytes work the same way
    question.encode("utf-8")  # no surrogate is left that printing or JSON would choke on


def test_lone_surrogates_from_json_disappear() -> None:
    assert clean_question("Was kostet \ud83d das?")[0] == "Was kostet das?"


def test_control_and_invisible_characters_are_removed() -> None:
    typed = "Wer\x00 hat\x1b[31m die\u202e Tagung\u200b\r\neröffnet?\x7f\x1b]0;Titel\x07"
    assert clean_question(typed) == ("Wer hat die Tagung eröffnet?", "")


def test_html_and_markdown_stay_text() -> None:
    typed = "<script>alert(1)</script> **Wer** hat [x](http://example.com) eröffnet?"
    assert clean_question(typed)[0] == typed  # displays escape it; nothing interprets it


def test_decomposed_umlauts_are_composed() -> None:
    assert clean_question("Gro\u0308ße")[0] == "Größe"


@pytest.mark.parametrize("typed", ["", "   ", "\n\t ", "\x00\x01", "\u200b\u202e", b"  "])
def test_empty_question_is_a_usage_error(typed: str | bytes) -> None:
    with pytest.raises(EmptyQuestionError) as error:
        clean_question(typed)
    assert isinstance(error.value, UsageError)  # exit code 2 on the command line
    assert "\n" not in str(error.value)


def test_very_long_question_is_cut_on_a_word_with_a_notice() -> None:
    typed = "Wie viele Prototypen wurden vorgestellt? " * 487 + "Ende" * 8 + "x"
    assert len(typed) == 20_000
    question, notice = clean_question(typed)
    assert len(question) <= MAX_QUESTION_CHARS
    assert len(question) > MAX_QUESTION_CHARS * 0.8
    assert typed.startswith(question) and typed[len(question)] == " "
    assert notice == ("Die Frage war 20.000 Zeichen lang; beantwortet wurden die ersten "
                      f"{len(question)} Zeichen.")


def test_long_word_is_cut_hard() -> None:
    question, notice = clean_question("x" * 5000)
    assert question == "x" * MAX_QUESTION_CHARS and "5.000" in notice
