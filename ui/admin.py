"""The admin side of the web app: uploads, re-indexing, the document list, deletion.

Every action takes the session's login flag and checks it on the server; the buttons
being hidden is never the protection.
"""

from __future__ import annotations

import hmac
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ui import strings as S

PASSWORD_ENV = "KORA_ADMIN_PASSWORD"
UPLOAD_FOLDER = "uploads"
_UNSAFE = re.compile(r"[^A-Za-z0-9äöüÄÖÜß._ -]")


def admin_password() -> str | None:
    """The admin password from the environment variable KORA_ADMIN_PASSWORD.

    Unset or empty disables the admin area. It is read from the environment on purpose
    (not from kora.toml or the settings) so that it never lands in a config file or in
    `kora config` output.
    """
    return os.environ.get(PASSWORD_ENV) or None


def check_password(given: str, expected: str | None) -> bool:
    if expected is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def is_logged_in(session: Any, expected: str | None) -> bool:
    """True only for a session whose flag a correct password set, while admin is on."""
    return session is True and expected is not None


class UnsafeNameError(ValueError):
    pass


def safe_file_name(name: str) -> str:
    """An uploaded file's name reduced to a harmless base name.

    Names with path separators or ".." are refused outright (they aim somewhere else);
    any other odd character becomes "_"; a leading dot or space is removed so the file
    can neither hide nor start with an option-like character.
    """
    if not name or "/" in name or "\\" in name or ".." in name or "\x00" in name:
        raise UnsafeNameError(name)
    cleaned = _UNSAFE.sub("_", name).strip().lstrip(". -")
    if not cleaned or "." not in cleaned or len(cleaned) > 200:
        raise UnsafeNameError(name)
    return cleaned


def save_uploads(paths: list[str], *, corpus_dir: Path, max_file_mb: float) -> list[str]:
    """Check and store uploaded files under corpus_dir/uploads; one message per file."""
    from ingest.readers import SUPPORTED_EXTENSIONS, read_file
    from rag.errors import ReaderError

    root = corpus_dir.resolve()
    folder = (root / UPLOAD_FOLDER).resolve()
    messages = []
    for given in paths:
        upload = Path(given)
        shown = upload.name
        try:
            name = safe_file_name(upload.name)
        except UnsafeNameError:
            messages.append(S.ADMIN_UPLOAD_REFUSED.format(name=shown, reason=S.ADMIN_REASON_NAME))
            continue
        target = (folder / name).resolve()
        if not target.is_relative_to(root) or target.parent != folder:
            messages.append(S.ADMIN_UPLOAD_REFUSED.format(name=shown,
                                                          reason=S.ADMIN_REASON_OUTSIDE))
            continue
        if target.suffix.lower() not in SUPPORTED_EXTENSIONS:
            reason = S.ADMIN_REASON_TYPE.format(allowed=", ".join(SUPPORTED_EXTENSIONS))
            messages.append(S.ADMIN_UPLOAD_REFUSED.format(name=shown, reason=reason))
            continue
        max_bytes = int(max_file_mb * 1_000_000)
        if upload.stat().st_size > max_bytes:
            reason = S.ADMIN_REASON_SIZE.format(limit=max_file_mb)
            messages.append(S.ADMIN_UPLOAD_REFUSED.format(name=shown, reason=reason))
            continue
        folder.mkdir(parents=True, exist_ok=True)
        # a hidden temporary name: an ingest running meanwhile skips dot files
        staging = folder / f".upload-{uuid.uuid4().hex}{target.suffix.lower()}"
        shutil.copyfile(upload, staging)
        try:
            read_file(staging, max_bytes=max_bytes)
        except ReaderError as exc:
            staging.unlink(missing_ok=True)
            messages.append(S.ADMIN_UPLOAD_REFUSED.format(name=shown, reason=str(exc)))
            continue
        os.replace(staging, target)
        messages.append(S.ADMIN_UPLOADED.format(name=name))
    return messages


def document_rows(index: Any) -> list[list[Any]]:
    """One row per indexed document: id, title, type, date, chunks, last indexed."""
    states = index.file_states()
    data = index.collection.get(include=["metadatas"])
    counts: dict[str, int] = {}
    first: dict[str, dict[str, Any]] = {}
    for meta in data.get("metadatas") or []:
        doc_id = str((meta or {}).get("doc_id", ""))
        counts[doc_id] = counts.get(doc_id, 0) + 1
        first.setdefault(doc_id, meta or {})
    rows = []
    for doc_id in sorted(states):
        meta = first.get(doc_id, {})
        rows.append([doc_id, str(meta.get("title", "")), str(meta.get("type", "")),
                     str(meta.get("date", "")), counts.get(doc_id, 0),
                     str(states[doc_id].get("indexed_at", ""))])
    return rows


def format_report(report: Any) -> str:
    lines = [S.ADMIN_REPORT.format(added=report.added, updated=report.updated,
                                   unchanged=report.unchanged, removed=report.removed,
                                   failed=len(report.failed), chunks=report.chunks)]
    lines += [S.ADMIN_REPORT_FAILURE.format(path=f.path, reason=f.reason)
              for f in report.failed]
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


def export_feedback_file(csv_text: str) -> str:
    folder = Path(tempfile.mkdtemp(prefix="kora-feedback-"))
    target = folder / "kora-rueckmeldungen.csv"
    target.write_text(csv_text, encoding="utf-8")
    return str(target)


ProgressFn = Callable[[int, int, str], None]
