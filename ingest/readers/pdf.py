"""PDF files via pypdf; each page is a section whose location is its page number."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from ingest.readers.base import ParsedDocument, SectionBuilder, title_from_filename
from ingest.readers.dates import date_in_text
from rag.errors import ReaderError

EXTENSIONS = (".pdf",)

_PDF_DATE = re.compile(r"D:(\d{4})(\d{2})?(\d{2})?")
# pypdf can't hyphenate back; rejoin words split at line ends ("Verwal-\ntung")
_HYPHENATED = re.compile(r"(\w)-\n(\w)")
# PDF name tokens that carry script; in uncompressed files they are visible as bytes
_SCRIPT_NAME = re.compile(rb"/(?:JavaScript|JS)(?![A-Za-z0-9])")
_ACTION_KEYS = ("/OpenAction", "/AA", "/A")


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
        if carries_javascript(reader, path):
            # KORA never runs it, but a document with script is a classic malware
            # carrier: the admin should look at it before it joins the knowledge base
            raise ReaderError("PDF contains JavaScript (active content): not indexed; save "
                              "it without scripts, e.g. by printing it to a new PDF")
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
        date=date or date_in_text(text) or "",
        type="dokument",
        source=path.name,
        sections=sections,
    )


def carries_javascript(reader: object, path: Path) -> bool:
    """Script in the file: as visible bytes, in the document's name tree, or in an open,
    page or annotation action (where compressed object streams hide the bytes)."""
    if _SCRIPT_NAME.search(path.read_bytes()):
        return True
    root = reader.trailer["/Root"].get_object()  # type: ignore[attr-defined]
    names = root.get("/Names")
    if names is not None and "/JavaScript" in names.get_object():
        return True
    holders = [root]
    for page in reader.pages:  # type: ignore[attr-defined]
        holders.append(page)
        holders += [annotation.get_object() for annotation in page.get("/Annots") or []]
    return any(_is_script_action(holder.get(key)) for holder in holders for key in _ACTION_KEYS)


def _is_script_action(action: object, depth: int = 0) -> bool:
    """An action dictionary (or a dictionary of them, for /AA) that runs JavaScript."""
    if action is None or depth > 4:
        return False
    action = action.get_object() if hasattr(action, "get_object") else action
    if not isinstance(action, dict):
        return False
    if action.get("/S") == "/JavaScript" or "/JS" in action:
        return True
    return any(_is_script_action(value, depth + 1) for value in action.values())


def _pdf_date(raw: object) -> str | None:
    match = _PDF_DATE.match(str(raw or ""))
    if not match:
        return None
    year, month, day = match.groups()
    return "-".join(part for part in (year, month, day) if part)
