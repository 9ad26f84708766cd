"""Which files an ingest reads: everything under the given paths (hidden ones skipped),
each with its ingest root, and why one must not be opened at all."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.readers import VANISHED
from rag.errors import UsageError


@dataclass(frozen=True)
class SourceFile:
    path: Path
    root: Path

    @property
    def doc_id(self) -> str:
        return self.path.relative_to(self.root).as_posix()


def collect_files(paths: Sequence[Path]) -> list[SourceFile]:
    """Every file under ``paths`` (hidden files and folders skipped), with its ingest root."""
    files: list[SourceFile] = []
    for given in paths:
        if not given.exists():
            raise UsageError(f"Path not found: {given}")
        root = given.resolve() if given.is_dir() else given.resolve().parent
        if given.is_dir():
            for path in sorted(root.rglob("*")):
                relative = path.relative_to(root)
                if any(part.startswith(".") for part in relative.parts):
                    continue
                # everything but real folders: links, pipes and devices are reported by
                # ``source_problem`` instead of vanishing silently
                if path.is_symlink() or not path.is_dir():
                    files.append(SourceFile(path, root))
        else:
            files.append(SourceFile(given.resolve(), root))
    return files


def source_problem(source: SourceFile) -> str | None:
    """Why a collected file must not be read, or None. Checked before the file is opened:
    a named pipe would block the ingest, a link could lead out of the ingest folder."""
    path = source.path
    try:
        status = os.stat(path)  # follows links
    except FileNotFoundError:
        if path.is_symlink():
            return "symbolic link points to a file that does not exist"
        return VANISHED
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop: the link points (indirectly) to itself"
        return f"cannot read file ({exc.strerror or type(exc).__name__})"
    if path.is_symlink() and not path.resolve().is_relative_to(source.root):
        return "symbolic link points outside the ingest folder: not followed"
    if stat.S_ISDIR(status.st_mode):
        return "symbolic link to a folder: not followed (link the files, or ingest the folder)"
    if not stat.S_ISREG(status.st_mode):
        return "not a regular file (a pipe, device or socket)"
    return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
