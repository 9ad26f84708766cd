"""What every reader returns: the document text, its metadata and its sections."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
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


def file_date(path: Path) -> str:
    """The file's modification date, for documents that carry no date of their own."""
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).date().isoformat()


def title_from_filename(path: Path) -> str:
    return path.stem.replace("_", " ").replace("-", " ").strip() or path.name


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
