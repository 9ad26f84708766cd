"""Word documents (.docx): paragraphs and tables; Heading styles become sections."""

from __future__ import annotations

import re
import zipfile
from datetime import datetime
from pathlib import Path

from ingest.readers.base import ParsedDocument, SectionBuilder, title_from_filename
from ingest.readers.dates import date_in_text
from rag.errors import ReaderError

EXTENSIONS = (".docx",)

# python-docx reads every part of the package into memory before parsing it, so the
# sizes the archive declares are checked first (Python's zipfile never inflates a
# member beyond its declared size). Real documents stay far below these: images are
# already compressed, and the text of a 500-page report is about 10 MB of XML.
MAX_UNPACKED_BYTES = 256_000_000
MAX_XML_PART_BYTES = 64_000_000
_MISSING_PART = re.compile(r"named '([^']+)'")

# python-docx's own template carries this creation and change time: a document written
# with it that never set its own says nothing by it about its date
TEMPLATE_STAMP = datetime(2013, 12, 23, 23, 15)

# English and German names of Word's built-in heading styles
_HEADING_PREFIXES = ("heading", "überschrift", "title", "titel")


def read(path: Path) -> ParsedDocument:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    check_package(path)
    try:
        document = docx.Document(str(path))
    except KeyError as exc:
        missing = _MISSING_PART.search(str(exc))
        part = missing.group(1) if missing else "a required part"
        raise ReaderError(f"DOCX is incomplete: {part} is missing") from exc
    except (PackageNotFoundError, zipfile.BadZipFile, ValueError) as exc:
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
    stamps = [stamp.date() for stamp in (properties.created, properties.modified)
              if stamp is not None and stamp.replace(tzinfo=None) != TEMPLATE_STAMP]
    date = max(stamps).isoformat() if stamps else date_in_text(text) or ""
    return ParsedDocument(
        text=text,
        title=(properties.title or "").strip() or first_heading or title_from_filename(path),
        date=date,
        type="dokument",
        source=path.name,
        sections=sections,
    )


def check_package(path: Path) -> None:
    """Refuse archives that would unpack to far more than any real document (zip bombs)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ReaderError(f"corrupt or unreadable DOCX ({type(exc).__name__})") from exc
    total = sum(member.file_size for member in members)
    if total > MAX_UNPACKED_BYTES:
        raise ReaderError(f"DOCX would unpack to {total / 1e6:,.0f} MB (limit "
                          f"{MAX_UNPACKED_BYTES / 1e6:,.0f} MB): a zip bomb, not a document")
    for member in members:
        if member.filename.endswith((".xml", ".rels")) and member.file_size > MAX_XML_PART_BYTES:
            raise ReaderError(f"DOCX part {member.filename} would unpack to "
                              f"{member.file_size / 1e6:,.0f} MB (limit "
                              f"{MAX_XML_PART_BYTES / 1e6:,.0f} MB): a zip bomb, not a document")
