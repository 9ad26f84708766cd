"""Plain text files (.txt): paragraphs separated by blank lines, no headings."""

from __future__ import annotations

from pathlib import Path

from ingest.readers.base import ParsedDocument, SectionBuilder, file_date, title_from_filename
from ingest.readers.encoding import decode_text

EXTENSIONS = (".txt", ".text")


def read(path: Path) -> ParsedDocument:
    text = decode_text(path.read_bytes())
    builder = SectionBuilder()
    for paragraph in text.split("\n\n"):
        builder.block(paragraph)
    body, sections = builder.build()
    first_line = body.split("\n", 1)[0].strip()
    title = first_line if 0 < len(first_line) <= 120 else title_from_filename(path)
    return ParsedDocument(
        text=body,
        title=title,
        date=file_date(path),
        type="dokument",
        source=path.name,
        sections=sections,
    )
