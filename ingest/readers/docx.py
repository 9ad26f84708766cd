"""Word documents (.docx): paragraphs and tables; Heading styles become sections."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ingest.readers.base import ParsedDocument, SectionBuilder, file_date, title_from_filename
from rag.errors import ReaderError

EXTENSIONS = (".docx",)

# English and German names of Word's built-in heading styles
_HEADING_PREFIXES = ("heading", "überschrift", "title", "titel")


def read(path: Path) -> ParsedDocument:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ReaderError(f"corrupt or unreadable DOCX ({type(exc).__name__})") from exc
    builder = SectionBuilder()
    first_heading = ""
    for block in document.element.body.iterchildren():
        tag = block.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = Paragraph(block, document)
            text = paragraph.text.strip()
            style = (paragraph.style.name if paragraph.style is not None else "").lower()
            if text and style.startswith(_HEADING_PREFIXES):
                first_heading = first_heading or text
                builder.heading(text)
            else:
                builder.block(text)
        elif tag == "tbl":
            table = Table(block, document)
            for row in table.rows:
                cells = [cell.text.strip() for cell in row.cells]
                builder.block(" | ".join(cell for cell in cells if cell))
    text, sections = builder.build()
    if not text.strip():
        raise ReaderError("DOCX contains no text")
    properties = document.core_properties
    date = properties.created.date().isoformat() if properties.created else file_date(path)
    return ParsedDocument(
        text=text,
        title=(properties.title or "").strip() or first_heading or title_from_filename(path),
        date=date,
        type="dokument",
        source=path.name,
        sections=sections,
    )
