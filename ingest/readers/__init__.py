"""One reader per file format; ``read_file`` picks one by extension."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ingest.readers import docx, html, markdown, pdf, text
from ingest.readers.base import ParsedDocument, Section
from rag.errors import ReaderError

Reader = Callable[[Path], ParsedDocument]

READERS: dict[str, Reader] = {
    extension: module.read
    for module in (markdown, text, pdf, docx, html)
    for extension in module.EXTENSIONS
}
SUPPORTED_EXTENSIONS = tuple(sorted(READERS))


def read_file(path: Path, *, max_bytes: int) -> ParsedDocument:
    """Parse ``path``; every failure becomes a ``ReaderError`` with a one-line reason."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise ReaderError(
            f"unsupported file type '{path.suffix or path.name}' "
            f"(supported: {', '.join(SUPPORTED_EXTENSIONS)})"
        )
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ReaderError(f"cannot read file ({exc.strerror})") from exc
    if size == 0:
        raise ReaderError("file is empty")
    if size > max_bytes:
        raise ReaderError(f"file is larger than the limit of {max_bytes / 1_000_000:g} MB")
    try:
        return reader(path)
    except ReaderError:
        raise
    except PermissionError as exc:
        raise ReaderError("permission denied: KORA cannot read this file") from exc
    except OSError as exc:
        raise ReaderError(f"cannot read file ({exc.strerror or exc})") from exc
    except Exception as exc:  # a parser bug on odd input must not stop the whole ingest
        raise ReaderError(f"could not parse file ({type(exc).__name__}: {exc})") from exc


__all__ = ["READERS", "SUPPORTED_EXTENSIONS", "ParsedDocument", "ReaderError", "Section",
           "read_file"]
