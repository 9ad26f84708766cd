"""A question as typed, made safe to answer: decoded, without control characters, bounded.

Questions arrive from old terminals (Latin-1 or Windows-1252 bytes that Python turns into
surrogate escapes when it decodes ``argv`` as UTF-8), from copy and paste (bidi marks,
zero-width spaces, control characters) and from API callers (anything at all). Nothing
here interprets HTML or Markdown: the text stays as typed, and every display escapes it.
"""

from __future__ import annotations

import re
import unicodedata

from rag.errors import UsageError

# The dense side reads at most 256 model tokens (about 1,000 characters of German), and
# BM25 over thousands of words matches everything a little: longer input only costs time.
MAX_QUESTION_CHARS = 1000

# Python decodes undecodable argv bytes 0x80-0xFF as U+DC80-U+DCFF (PEP 383).
_ESCAPED_BYTES = re.compile("[\udc80-\udcff]+")
_SURROGATES = re.compile("[\ud800-\udfff]")
# terminal escape sequences (colours, cursor moves, window titles) pasted with a question
_TERMINAL_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")


class EmptyQuestionError(UsageError):
    """A question with no text in it; the command line exits with 2."""


def clean_question(text: str | bytes, *, max_chars: int = MAX_QUESTION_CHARS) -> tuple[str, str]:
    """``(question, notice)``: the question fit to answer, and a German note for the user
    when it had to be cut (else ""). Raises ``EmptyQuestionError`` when nothing is left."""
    if isinstance(text, bytes):
        text = decode_legacy_bytes(text)
    text = _restore_escaped_bytes(text)
    text = _SURROGATES.sub("", text)  # halves of characters (e.g. from JSON) mean nothing
    text = unicodedata.normalize("NFC", text)
    text = _TERMINAL_ESCAPES.sub(" ", text)
    text = "".join(_visible(char) for char in text)
    text = " ".join(text.split())
    if not text:
        raise EmptyQuestionError(
            'The question is empty: ask in words, e.g. kora ask "Was ist URBAN.KI?"'
        )
    if len(text) <= max_chars:
        return text, ""
    cut = text[:max_chars]
    space = cut.rfind(" ")
    if space >= max_chars * 0.8:  # end on a whole word unless that loses too much
        cut = cut[:space]
    notice = (f"Die Frage war {len(text):,} Zeichen lang; beantwortet wurden die ersten "
              f"{len(cut):,} Zeichen.").replace(",", ".")
    return cut, notice


def decode_legacy_bytes(data: bytes) -> str:
    """UTF-8 where the bytes are UTF-8, Windows-1252 for the rest (old German terminals)."""
    return _restore_escaped_bytes(data.decode("utf-8", errors="surrogateescape"))


def _restore_escaped_bytes(text: str) -> str:
    def decode(match: re.Match[str]) -> str:
        raw = bytes(ord(char) - 0xDC00 for char in match.group())
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:  # five byte values are undefined in cp1252
            return raw.decode("latin-1")

    return _ESCAPED_BYTES.sub(decode, text)


def _visible(char: str) -> str:
    """Control characters become spaces; invisible format characters (bidi overrides,
    zero-width spaces, soft hyphens) disappear, so the text reads as it looks."""
    category = unicodedata.category(char)
    if category == "Cc":
        return " "
    if category == "Cf":
        return ""
    return char


__all__ = ["MAX_QUESTION_CHARS", "EmptyQuestionError", "clean_question", "decode_legacy_bytes"]
