"""The admin side of the web app: uploads, re-indexing, the document list, deletion.

Who may call these is decided in ``ui/auth.py`` on the server for every action; this
module only does the work once that is settled.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.answering import UNDATED
from ui import strings as S

UPLOAD_FOLDER = "uploads"
_UNSAFE = re.compile(r"[^A-Za-z0-9äöüÄÖÜß._ -]")
_COPY_BLOCK = 1 << 20


class UnsafeNameError(ValueError):
    """An upload name KORA will not store; ``reason`` is the German text shown."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(name)
        self.reason = reason


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
        raise UnsafeNameError(name, S.ADMIN_REASON_NAME)
    if "/" in name or "\\" in name:
        raise UnsafeNameError(name, S.ADMIN_REASON_NAME_PATH)
    if ".." in name:
        raise UnsafeNameError(name, S.ADMIN_REASON_NAME_DOTS)
    if any(unicodedata.category(char) == "Cc" for char in name):
        raise UnsafeNameError(name, S.ADMIN_REASON_NAME_CONTROL)
    if any(unicodedata.category(char) == "Cf" for char in name):
        raise UnsafeNameError(name, S.ADMIN_REASON_NAME_INVISIBLE)
    cleaned = _UNSAFE.sub("_", name).strip().lstrip(". -")
    if not cleaned or "." not in cleaned or len(cleaned) > 200:
        raise UnsafeNameError(name, S.ADMIN_REASON_NAME)
    return cleaned


def shown_name(name: str) -> str:
    """A name as it may appear in a message: controls and bidi marks made visible."""
    return "".join(char if unicodedata.category(char) not in ("Cc", "Cf")
                   else f"\\u{ord(char):04x}" for char in name)[:120]


@dataclass(frozen=True)
class UploadOutcome:
    message: str
    doc_id: str | None = None  # set when the file was stored
    sha256: str | None = None


def save_uploads(paths: list[str], *, corpus_dir: Path, max_file_mb: float) -> list[UploadOutcome]:
    """Check and store uploaded files under corpus_dir/uploads; one outcome per file."""
    from ingest.readers import SUPPORTED_EXTENSIONS, read_file
    from rag.errors import ReaderError

    root = corpus_dir.resolve()
    folder = (root / UPLOAD_FOLDER).resolve()
    max_bytes = int(max_file_mb * 1_000_000)
    outcomes = []
    for given in paths:
        upload = Path(given)
        shown = shown_name(upload.name)

        def refused(reason: str, shown: str = shown) -> UploadOutcome:
            return UploadOutcome(S.ADMIN_UPLOAD_REFUSED.format(name=shown, reason=reason))

        try:
            name = safe_file_name(upload.name)
        except UnsafeNameError as exc:
            outcomes.append(refused(exc.reason))
            continue
        target = (folder / name).resolve()
        if not target.is_relative_to(root) or target.parent != folder:
            outcomes.append(refused(S.ADMIN_REASON_OUTSIDE))
            continue
        if target.suffix.lower() not in SUPPORTED_EXTENSIONS:
            outcomes.append(refused(
                S.ADMIN_REASON_TYPE.format(allowed=", ".join(SUPPORTED_EXTENSIONS))))
            continue
        if upload.stat().st_size > max_bytes:
            outcomes.append(refused(S.ADMIN_REASON_SIZE.format(limit=max_file_mb)))
            continue
        folder.mkdir(parents=True, exist_ok=True)
        # a hidden temporary name: an ingest running meanwhile skips dot files
        staging = folder / f".upload-{uuid.uuid4().hex}{target.suffix.lower()}"
        try:
            sha256 = copy_streaming(upload, staging, max_bytes=max_bytes)
            read_file(staging, max_bytes=max_bytes)
        except ReaderError as exc:
            staging.unlink(missing_ok=True)
            outcomes.append(refused(str(exc)))
            continue
        except OSError as exc:
            staging.unlink(missing_ok=True)
            outcomes.append(refused(S.ADMIN_REASON_WRITE.format(error=exc.strerror or "")))
            continue
        replaced = target.exists()
        os.replace(staging, target)
        message = S.ADMIN_REPLACED if replaced else S.ADMIN_UPLOADED
        outcomes.append(UploadOutcome(message.format(name=name),
                                      doc_id=target.relative_to(root).as_posix(),
                                      sha256=sha256))
    return outcomes


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


def document_rows(index: Any) -> list[list[Any]]:
    """One row per indexed document: id, title, type, date ("ohne Datum"), chunks, last
    indexed, and the document that replaces it (a replaced one stays listed)."""
    from rag.providers.keyword import READ_PAGE

    states = index.file_states()
    replaced = index.replaced()
    counts: dict[str, int] = {}
    first: dict[str, dict[str, Any]] = {}
    for _, _, metas in index.chunk_pages(READ_PAGE, texts=False):
        for meta in metas:
            doc_id = str((meta or {}).get("doc_id", ""))
            counts[doc_id] = counts.get(doc_id, 0) + 1
            first.setdefault(doc_id, meta or {})
    rows = []
    for doc_id in sorted(states):
        meta = first.get(doc_id, {})
        rows.append([doc_id, str(meta.get("title", "")), str(meta.get("type", "")),
                     str(meta.get("date", "")) or UNDATED, counts.get(doc_id, 0),
                     str(states[doc_id].get("indexed_at", "")), replaced.get(doc_id, "")])
    return rows


def format_report(report: Any) -> str:
    lines = [S.ADMIN_REPORT.format(added=report.added, updated=report.updated,
                                   unchanged=report.unchanged, removed=report.removed,
                                   failed=len(report.failed), chunks=report.chunks)]
    lines += [S.ADMIN_REPORT_FAILURE.format(path=f.path, reason=f.reason)
              for f in report.failed]
    lines += _versions(report)
    if report.undated:
        lines.append(S.ADMIN_REPORT_UNDATED.format(count=report.undated))
    return "\n".join(lines)


def _versions(report: Any) -> list[str]:
    return ([S.ADMIN_REPORT_REPLACED.format(doc_id=r.doc_id, by=r.by) for r in report.replaced]
            + [S.ADMIN_REPORT_RESTORED.format(doc_id=doc_id) for doc_id in report.restored])


def format_preview(plan: Any) -> str:
    """The dry run in the admin area: what "Neu indexieren" would do, document by document."""
    lines = [S.ADMIN_PREVIEW_HEADING.format(
        added=plan.added, updated=plan.updated, unchanged=plan.unchanged,
        removed=plan.removed, failed=len(plan.failed), undated=plan.undated)]
    for kind, ids in (("add", plan.added_ids), ("update", plan.updated_ids),
                      ("remove", plan.removed_ids)):
        lines += [S.ADMIN_PREVIEW_LINE[kind].format(doc_id=doc_id) for doc_id in ids]
    lines += [S.ADMIN_PREVIEW_REPLACE.format(doc_id=r.doc_id, by=r.by) for r in plan.replaced]
    lines += [S.ADMIN_PREVIEW_RESTORE.format(doc_id=doc_id) for doc_id in plan.restored]
    lines += [S.ADMIN_PREVIEW_FAILURE.format(path=f.path, reason=f.reason) for f in plan.failed]
    return "\n".join(lines)


def delete_document(doc_id: str, *, states: dict[str, dict[str, Any]],
                    corpus_dir: Path) -> tuple[bool, str]:
    """Remove the file behind ``doc_id`` if it lies inside the corpus directory."""
    state = states.get(doc_id)
    if state is None:
        return False, S.ADMIN_DELETE_UNKNOWN.format(doc_id=doc_id)
    path = Path(state["path"]).resolve()
    if not path.is_relative_to(corpus_dir.resolve()):
        return False, S.ADMIN_DELETE_OUTSIDE.format(doc_id=doc_id)
    path.unlink(missing_ok=True)
    return True, S.ADMIN_DELETED.format(doc_id=doc_id)


def export_file(folder: Path, name: str, text: str) -> str:
    """Write an export for download. One file per name, replaced by the next export, in a
    folder the app removes when it stops: no copies of feedback pile up in /tmp."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    return str(target)


ProgressFn = Callable[[int, int, str], None]
