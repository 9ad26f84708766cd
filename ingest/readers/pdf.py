"""PDF files via pypdf; each page is a section whose location is its page number."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from ingest.readers.base import ParsedDocument, SectionBuilder, file_date, title_from_filename
from rag.errors import ReaderError

EXTENSIONS = (".pdf",)

_PDF_DATE = re.compile(r"D:(\d{4})(\d{2})?(\d{2})?")
# pypdf can't hyphenate back; rejoin words split at line ends ("Verwal-\ntung")
_HYPHENATED = re.compile(r"(\w)-\n(\w)")


def read(path: Path) -> ParsedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            from pypdf import PasswordType

            try:
                opened = reader.decrypt("")
            except Exception as exc:
                raise ReaderError("PDF is password-protected") from exc
            if opened == PasswordType.NOT_DECRYPTED:
                raise ReaderError("PDF is password-protected")
        builder = SectionBuilder()
        for number, page in enumerate(reader.pages, start=1):
            page_text = _HYPHENATED.sub(r"\1\2", page.extract_text() or "")
            builder.heading("", location=f"Seite {number}")
            builder.block(page_text)
        info = reader.metadata
    except ReaderError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ReaderError(f"corrupt or unreadable PDF ({exc})") from exc
    text, sections = builder.build()
    if not text.strip():
        raise ReaderError("PDF has no extractable text (scanned image? OCR is not supported)")
    title = str(info.title).strip() if info is not None and info.title else ""
    date = _pdf_date(info.get("/CreationDate") if info is not None else None)
    return ParsedDocument(
        text=text,
        title=title or title_from_filename(path),
        date=date or file_date(path),
        type="dokument",
        source=path.name,
        sections=sections,
    )


def _pdf_date(raw: object) -> str | None:
    match = _PDF_DATE.match(str(raw or ""))
    if not match:
        return None
    year, month, day = match.groups()
    return "-".join(part for part in (year, month, day) if part)
