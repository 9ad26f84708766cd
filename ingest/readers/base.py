"""What every reader returns: the document text, its metadata and its sections."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Section:
    """A span of the document text with a human-readable location (heading or page)."""

    start: int
    end: int
    location: str


@dataclass
class ParsedDocument:
    text: str
    title: str
    date: str
    type: str
    source: str
    tags: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    # the document this one replaces (front matter ``ersetzt:``): a doc_id or file name
    replaces: str = ""


def title_from_filename(path: Path) -> str:
    return path.stem.replace("_", " ").replace("-", " ").strip() or path.name


_URL = re.compile(r"^(?:<)?(?:https?://|www\.)\S+?(?:>)?$", re.IGNORECASE)
_SOURCE_LABEL = re.compile(
    r"^(?:quelle|quellen|source|url|link|fundstelle|originalartikel|online unter|"
    r"abgerufen (?:von|unter|am)|gefunden auf)\s*:?\s*(.+)$", re.IGNORECASE)


def source_line(line: str) -> str | None:
    """The source a line names, if it is only a web address or a "Quelle: ..." line
    (pages saved as text often start with one): such a line is metadata, not a title."""
    line = line.strip()
    if _URL.match(line):
        return line.strip("<>")
    match = _SOURCE_LABEL.match(line)
    return match.group(1).strip() if match else None


_DATELINE_PARTS = re.compile(
    r"\b(?:montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|januar|februar|"
    r"märz|maerz|april|mai|juni|juli|august|september|oktober|november|dezember|jan|feb|"
    r"mär|apr|jun|jul|aug|sep|sept|okt|nov|dez|uhr|stand|aktualisiert|veröffentlicht|"
    r"erstellt|zuletzt|geändert|datum|am|den|um|vom|von|pressestelle|pressemitteilung|"
    r"redaktion|autor|autorin|foto|fotos|bild|text|lesezeit|minuten|min)\b\.?|"
    r"\d+(?:[.:/-]\d+)*\.?|[|,;:–—\-•·/()]", re.IGNORECASE)
_BYLINE_START = re.compile(r"^\s*(?:von|text|foto|fotos|bild|autor|autorin|redaktion|"
                           r"pressestelle|stand|aktualisiert|veröffentlicht)\b", re.IGNORECASE)


_BYLINE_WORD = re.compile(r"\b(?:pressestelle|pressemitteilung|redaktion|\d{1,2}[:.]\d{2}\s*uhr)\b",
                          re.IGNORECASE)


# the place a press release is dated from: one to three capitalised words ("Bad Homburg
# v. d. Höhe" aside), then a comma; what follows must itself be a dateline
_PLACE_DATELINE = re.compile(
    r"^\s*[A-ZÄÖÜ][\w.\-]*(?:\s+(?:an\s+der|am|im|in\s+der|(?:[A-ZÄÖÜ][\w.\-]*)))"
    r"{0,3},\s*(?=.*\d)")


def is_dateline(line: str) -> bool:
    """A line that is only a date, a time, a byline or a mix of them ("Montag, 3. März
    2025", "4. Februar 2025, 09:30 Uhr | Pressestelle", "Stand: 12.03.2025"), or a press
    release's place and date ("Oberweißach, 14. März 2026"): metadata that pages saved as
    text start with, never a title."""
    place = _PLACE_DATELINE.match(line)
    if place and is_dateline(line[place.end():]):
        return True  # "Oberweißach, 14. März 2026": a press release's place and date
    byline = bool(_BYLINE_START.match(line) or _BYLINE_WORD.search(line))
    if not re.search(r"\d", line) and not byline:
        return False
    rest = _DATELINE_PARTS.sub(" ", line).split()
    # a byline keeps a name or two ("Von Anna Beispiel"); a date keeps nothing
    return len(rest) == 0 or (byline and len(rest) <= 4)


def reads_like_title(line: str) -> bool:
    """A short line that names a document rather than saying something: at most 16 words
    and 120 characters, not a web address or date alone, not ending like a sentence
    (unless very short)."""
    line = line.strip()
    words = line.split()
    if not words or len(line) > 120 or len(words) > 16 or source_line(line) is not None:
        return False
    if not any(character.isalpha() for character in line):
        return False  # "12.03.2025", "* * *"
    if is_dateline(line):
        return False  # "Montag, 3. März 2025", "09:30 Uhr | Pressestelle"
    return not (line.endswith((".", ",", ";")) and len(words) > 8)


class SectionBuilder:
    """Joins text blocks into one document text and records a section per heading.

    Headings stay in the text (so the indexed document reads like the original), but a
    section's span starts after its heading: chunks hold body text, the heading becomes
    their location.
    """

    def __init__(self, default_location: str = "") -> None:
        self._text = ""
        self._sections: list[Section] = []
        self._location = default_location
        self._start = 0

    def _append(self, text: str) -> None:
        if self._text:
            self._text += "\n\n"
        self._text += text

    def heading(self, text: str, location: str | None = None) -> None:
        self._close()
        text = " ".join(text.split())
        if text:
            self._append(text)
        self._location = location or text
        self._start = len(self._text)

    def block(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        self._append(text)

    def _close(self) -> None:
        start = self._start
        while start < len(self._text) and self._text[start].isspace():
            start += 1
        if start < len(self._text):
            self._sections.append(Section(start, len(self._text), self._location))

    def build(self) -> tuple[str, list[Section]]:
        self._close()
        self._start = len(self._text)
        return self._text, self._sections
