"""One reader per file format; ``read_file`` picks one by extension."""

from __future__ import annotations

import stat
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
VANISHED = "cannot read file: it no longer exists (deleted or moved meanwhile)"


def read_file(path: Path, *, max_bytes: int) -> ParsedDocument:
    """Parse ``path``; every failure becomes a ``ReaderError`` with a one-line reason."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise ReaderError(
            f"unsupported file type '{path.suffix or path.name}' "
            f"(supported: {', '.join(SUPPORTED_EXTENSIONS)})"
        )
    try:
        status = path.stat()
    except FileNotFoundError as exc:
        raise ReaderError(VANISHED) from exc
    except OSError as exc:
        raise ReaderError(f"cannot read file ({exc.strerror})") from exc
    if not stat.S_ISREG(status.st_mode):
        # opening a named pipe would wait forever; a device could be endless
        raise ReaderError("not a regular file (a folder, pipe, device or socket)")
    size = status.st_size
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
    except FileNotFoundError as exc:
        raise ReaderError(VANISHED) from exc
    except OSError as exc:
        raise ReaderError(f"cannot read file ({exc.strerror or type(exc).__name__})") from exc
    except RecursionError as exc:
        raise ReaderError("file is nested too deeply to parse") from exc
    except MemoryError as exc:
        raise ReaderError("file needs more memory to parse than is available") from exc
    except Exception as exc:  # a parser bug on odd input must not stop the whole ingest
        # the exception's own text can be long, multi-line or cryptic: name its type only
        raise ReaderError(f"could not parse file ({type(exc).__name__})") from exc


__all__ = ["READERS", "SUPPORTED_EXTENSIONS", "VANISHED", "ParsedDocument", "ReaderError",
           "Section", "read_file"]
