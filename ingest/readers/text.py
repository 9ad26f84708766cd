"""Plain text files (.txt): paragraphs separated by blank lines, no headings."""

from __future__ import annotations

from pathlib import Path

from ingest.readers.base import (
    ParsedDocument,
    SectionBuilder,
    is_dateline,
    reads_like_title,
    source_line,
    title_from_filename,
)
from ingest.readers.dates import date_in_text
from ingest.readers.encoding import decode_text

EXTENSIONS = (".txt", ".text")


HEAD_LINES = 5  # a title or a source line is looked for among the first lines


def read(path: Path) -> ParsedDocument:
    text = decode_text(path.read_bytes())
    lines = text.split("\n")
    source, title = path.name, ""
    # leading web addresses and "Quelle: ..." lines are metadata: they become the
    # source and leave the text, so they are neither the title nor quoted as an answer
    head = 0
    while head < len(lines) and head < HEAD_LINES:
        line = lines[head].strip()
        named = source_line(line) if line else None
        if line and named is None:
            break
        if named:
            source = named
        head += 1
    # a date or byline line before the title is skipped in the search for it
    first_line = head
    while (first_line < len(lines) and first_line < head + HEAD_LINES
           and (not lines[first_line].strip() or is_dateline(lines[first_line].strip()))):
        first_line += 1
    first = lines[first_line].strip() if first_line < len(lines) else ""
    if reads_like_title(first):
        title = first
    builder = SectionBuilder()
    for paragraph in "\n".join(lines[head:]).split("\n\n"):
        builder.block(paragraph)
    body, sections = builder.build()
    return ParsedDocument(
        text=body,
        title=title or title_from_filename(path),
        date=date_in_text(body) or "",
        type="dokument",
        source=source,
        sections=sections,
    )
