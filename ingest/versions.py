"""Versions: a document may replace another.

A Markdown file says so in its front matter (``ersetzt: projekte/park-app.md``, a
document id or just a file name); for any other file an admin chooses it at upload
("ersetzt Dokument …"), which is recorded beside the upload in a hidden file of its
folder (``.kora-ersetzt.json``: file name -> replaced document), so that it survives a
re-index and a rebuild and needs no change to the file. The replaced document stays in
the index and in the document list, but answers no question; when the replacing file is
deleted (and the index pruned), the older one answers again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

from ingest.sources import SourceFile
from rag.files import write_json_atomic

DECLARATIONS = ".kora-ersetzt.json"  # hidden: never collected as a document itself


def _read_declarations(folder: Path) -> dict[str, str]:
    try:
        data = json.loads((folder / DECLARATIONS).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except (OSError, ValueError):
        return {}  # an unreadable record declares nothing; the documents still index
    if not isinstance(data, dict):
        return {}
    return {str(name): str(target) for name, target in data.items() if str(target).strip()}


def declared_in_folders(files: Iterable[SourceFile]) -> dict[str, str]:
    """doc_id -> what it replaces, for the collected files an admin declared at upload."""
    by_folder: dict[Path, dict[str, str]] = {}
    declared: dict[str, str] = {}
    for source in files:
        folder = source.path.parent
        if folder not in by_folder:
            by_folder[folder] = _read_declarations(folder)
        target = by_folder[folder].get(source.path.name)
        if target:
            declared[source.doc_id] = target
    return declared


def declare_replacement(folder: Path, file_name: str, replaces: str | None) -> None:
    """Record (or, with ``replaces`` None or empty, forget) that the file ``file_name`` in
    ``folder`` replaces the document ``replaces``."""
    declarations = _read_declarations(folder)
    if replaces:
        declarations[file_name] = replaces
    elif file_name not in declarations:
        return
    else:
        del declarations[file_name]
    path = folder / DECLARATIONS
    if not declarations:
        path.unlink(missing_ok=True)
        return
    write_json_atomic(path, declarations)


def resolve(target: str, doc_ids: Iterable[str]) -> str | None:
    """The document ``target`` names: its id, or else the one document whose file name
    (with or without extension) it is; None when it names none or several."""
    target = target.strip().strip("/")
    ids = list(doc_ids)
    if target in ids:
        return target
    for key in (lambda d: PurePosixPath(d).name, lambda d: PurePosixPath(d).stem):
        matches = [doc_id for doc_id in ids if key(doc_id) == target]
        if len(matches) == 1:
            return matches[0]
    return None


def replacements(declared: Mapping[str, str], doc_ids: Iterable[str]) -> dict[str, str]:
    """Replaced doc_id -> the doc_id replacing it, from ``declared`` (newer -> what it
    names) over the documents in the index. A document naming itself, nothing known, or
    one that names it back is ignored; of two documents replacing the same one, the
    first by id wins."""
    ids = sorted(set(doc_ids))
    known = set(ids)
    result: dict[str, str] = {}
    for newer in sorted(declared):
        if newer not in known:
            continue
        older = resolve(declared[newer], ids)
        if older is None or older == newer or older in result:
            continue
        back = declared.get(older)
        if back is not None and resolve(back, ids) == newer:
            continue  # two documents replacing each other: neither is retired
        result[older] = newer
    return result
