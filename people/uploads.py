"""Uploaded files: names made safe, contents checked and stored under the corpus folder.

Returns what happened as data: a refusal is a code (``REFUSALS``) plus the detail that
belongs in its explanation; ``ui`` turns both into the German line a person reads.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path

UPLOAD_FOLDER = "uploads"
# why an upload was refused; ui/strings.py holds the German text of each
REFUSALS = ("name", "name-path", "name-dots", "name-control", "name-invisible", "outside",
            "type", "size", "unreadable", "write")
_UNSAFE = re.compile(r"[^A-Za-z0-9äöüÄÖÜß._ -]")
_COPY_BLOCK = 1 << 20


class UnsafeNameError(ValueError):
    """An upload name KORA will not store; ``code`` says why (one of ``REFUSALS``)."""

    def __init__(self, name: str, code: str) -> None:
        super().__init__(name)
        self.code = code


def safe_file_name(name: str) -> str:
    """An uploaded file's name reduced to a harmless base name.

    Names with path separators or ".." are refused outright (they aim somewhere else),
    and so are names with control characters or invisible format characters such as the
    right-to-left override (U+202E makes "rechnung<U+202E>dm.exe" look like "rechnungexe.md"). Any
    other odd character becomes "_"; a leading dot, dash or space is removed so the
    file can neither hide nor look like an option.
    """
    name = unicodedata.normalize("NFC", name or "")  # macOS sends ä as a + combining mark
    if not name:
        raise UnsafeNameError(name, "name")
    if "/" in name or "\\" in name:
        raise UnsafeNameError(name, "name-path")
    if ".." in name:
        raise UnsafeNameError(name, "name-dots")
    if any(unicodedata.category(char) == "Cc" for char in name):
        raise UnsafeNameError(name, "name-control")
    if any(unicodedata.category(char) == "Cf" for char in name):
        raise UnsafeNameError(name, "name-invisible")
    cleaned = _UNSAFE.sub("_", name).strip().lstrip(". -")
    if not cleaned or "." not in cleaned or len(cleaned) > 200:
        raise UnsafeNameError(name, "name")
    return cleaned


def shown_name(name: str) -> str:
    """A name as it may appear in a message: controls and bidi marks made visible."""
    return "".join(char if unicodedata.category(char) not in ("Cc", "Cf")
                   else f"\\u{ord(char):04x}" for char in name)[:120]


@dataclass(frozen=True)
class UploadOutcome:
    """One uploaded file: stored (``doc_id`` set) or refused (``refusal`` set)."""

    file: str  # the name as given, made safe to show
    name: str | None = None  # the stored file's name
    doc_id: str | None = None
    sha256: str | None = None
    replaced: bool = False  # a file of that name was there before
    refusal: str | None = None  # one of REFUSALS
    detail: str = ""  # what the refusal's explanation needs: a limit, a reader's reason

    @property
    def stored(self) -> bool:
        return self.doc_id is not None


def save_uploads(paths: list[str], *, corpus_dir: Path, max_file_mb: float) -> list[UploadOutcome]:
    """Check and store uploaded files under corpus_dir/uploads; one outcome per file."""
    return [_save_one(Path(given), root=corpus_dir.resolve(), max_file_mb=max_file_mb)
            for given in paths]


def _save_one(upload: Path, *, root: Path, max_file_mb: float) -> UploadOutcome:
    from ingest.readers import SUPPORTED_EXTENSIONS, read_file
    from rag.errors import ReaderError

    shown = shown_name(upload.name)
    folder = (root / UPLOAD_FOLDER).resolve()
    max_bytes = int(max_file_mb * 1_000_000)
    try:
        name = safe_file_name(upload.name)
    except UnsafeNameError as exc:
        return UploadOutcome(shown, refusal=exc.code)
    target = (folder / name).resolve()
    if not target.is_relative_to(root) or target.parent != folder:
        return UploadOutcome(shown, refusal="outside")
    if target.suffix.lower() not in SUPPORTED_EXTENSIONS:
        return UploadOutcome(shown, refusal="type", detail=", ".join(SUPPORTED_EXTENSIONS))
    if upload.stat().st_size > max_bytes:
        return UploadOutcome(shown, refusal="size", detail=f"{max_file_mb:g}")
    folder.mkdir(parents=True, exist_ok=True)
    # a hidden temporary name: an ingest running meanwhile skips dot files
    staging = folder / f".upload-{uuid.uuid4().hex}{target.suffix.lower()}"
    try:
        sha256 = copy_streaming(upload, staging, max_bytes=max_bytes)
        read_file(staging, max_bytes=max_bytes)
    except ReaderError as exc:
        staging.unlink(missing_ok=True)
        return UploadOutcome(shown, refusal="unreadable", detail=str(exc))
    except OSError as exc:
        staging.unlink(missing_ok=True)
        return UploadOutcome(shown, refusal="write", detail=exc.strerror or "")
    replaced = target.exists()
    os.replace(staging, target)
    return UploadOutcome(shown, name=name, doc_id=target.relative_to(root).as_posix(),
                         sha256=sha256, replaced=replaced)


def copy_streaming(source: Path, target: Path, *, max_bytes: int) -> str:
    """Copy block by block (never the whole file in memory); the SHA-256 of the content.
    Stops at ``max_bytes``: a file that grows while it is copied is not let through."""
    from rag.errors import ReaderError

    digest = hashlib.sha256()
    copied = 0
    with open(source, "rb") as reader, open(target, "xb") as writer:
        while block := reader.read(_COPY_BLOCK):
            copied += len(block)
            if copied > max_bytes:
                raise ReaderError(f"file is larger than the limit of {max_bytes / 1e6:g} MB")
            digest.update(block)
            writer.write(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while block := handle.read(_COPY_BLOCK):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


__all__ = ["REFUSALS", "UPLOAD_FOLDER", "UnsafeNameError", "UploadOutcome", "copy_streaming",
           "file_sha256", "safe_file_name", "save_uploads", "shown_name"]
