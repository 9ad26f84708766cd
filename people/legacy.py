"""The one-time import of the files in which each worker kept people's data before:
``accounts.json``, ``audit.jsonl``, ``api_keys.sqlite`` and ``feedback.sqlite`` in its
data directory.

Each file is imported in one transaction that also records the file's SHA-256, then
renamed with the suffix ``.imported``. Running it again, after a crash between the commit
and the renaming, or with the same file in several data directories, imports nothing
twice. An audit log whose chain is broken is not imported at all: the import stops with
one line, and the file stays where it is for a person to look at.

The audit entries join the database's chain in their order; into an empty database that
gives the very hashes the file had. An entry "audit-import" names the file, its entry
count and its last hash, so the old chain stays traceable when a second worker's file
is appended after the first.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from people.accounts import ACCOUNTS_FILE, AccountStore
from people.api_keys import API_KEYS_FILE, DatabaseApiKeyStore
from people.api_keys import COLUMNS as API_KEY_COLUMNS
from people.audit import AUDIT_FILE, AuditLog, verify_lines
from people.database import DatabaseSetupError, lock
from people.feedback import CSV_COLUMNS, FEEDBACK_FILE, FeedbackStore
from people.schema import legacy_imports
from rag.jsontypes import JSONObject

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from people.database import Database

IMPORTED_SUFFIX = ".imported"


def import_legacy_files(database: Database) -> dict[str, int]:
    """Import whichever old files the data directory still holds: {kind: rows}."""
    done: dict[str, int] = {}
    # the audit log first: into an empty database its chain keeps its hashes
    for kind, name, read in (("audit", AUDIT_FILE, _read_audit),
                             ("accounts", ACCOUNTS_FILE, _read_accounts),
                             ("api_keys", API_KEYS_FILE, _read_api_keys),
                             ("feedback", FEEDBACK_FILE, _read_feedback)):
        path = database.data_dir / name
        if not path.is_file():
            continue
        digest = _digest(path)
        content = read(path)
        with database.transaction(prepare=False) as connection:
            lock(connection, "import")
            known = connection.execute(select(legacy_imports.c.sha256)
                                       .where(legacy_imports.c.sha256 == digest)).first()
            if known is None:
                rows = _write(kind, connection, content, path, database)
                connection.execute(insert(legacy_imports).values(
                    sha256=digest, kind=kind, source=str(path.resolve()), rows=rows,
                    imported_at=datetime.now(UTC).isoformat(timespec="seconds")))
                done[kind] = rows
        _set_aside(path)
    return done


def _write(kind: str, connection: Connection, content: Any, path: Path,
           database: Database) -> int:
    if kind == "accounts":
        added, skipped = AccountStore(database).import_rows(connection, content)
        _audit_import(connection, database, path, {"accounts": added, "skipped": skipped})
        return added
    if kind == "audit":
        lock(connection, "audit")
        log = AuditLog(database)
        last = ""
        for record in content:
            last = str(log.append_in(connection, record)["hash"])
        _audit_import(connection, database, path,
                      {"entries": len(content), "last_hash_in_file": last})
        return len(content)
    if kind == "api_keys":
        # only the keys' hashes travel (as they were stored); the audit entry counts them
        added, skipped = DatabaseApiKeyStore.import_rows(connection, content)
        _audit_import(connection, database, path, {"keys": added, "skipped": skipped})
        return added
    rows = FeedbackStore.import_rows(connection, content)
    _audit_import(connection, database, path, {"rows": rows})
    return rows


def _audit_import(connection: Connection, database: Database, path: Path,
                  detail: JSONObject) -> None:
    lock(connection, "audit")
    AuditLog(database).append_in(connection, {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"), "account": "system",
        "client": "local", "action": "import", "outcome": "ok", "documents": [],
        "detail": {"file": str(path.resolve()), **detail}})


def _read_accounts(path: Path) -> dict[str, JSONObject]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        entries = dict(raw.get("accounts", {}))
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        raise DatabaseSetupError(
            f"The old account file {path} cannot be read ({type(exc).__name__}), so it "
            "was not imported: restore it from a backup, or move it away and add the "
            "accounts again with `kora admin add`.") from exc
    return entries


def _read_audit(path: Path) -> list[JSONObject]:
    text = path.read_bytes().decode("utf-8", errors="replace")
    check, records = verify_lines(line for line in text.split("\n") if line)
    if not check.intact:
        raise DatabaseSetupError(
            f"The old audit log {path} was changed outside KORA from line "
            f"{check.first_broken_line} on, so nothing of it was imported: keep a copy for "
            "the data-protection officer, move the file away, and start KORA again.")
    return records


def _read_api_keys(path: Path) -> list[JSONObject]:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            rows = db.execute(f"SELECT {', '.join(API_KEY_COLUMNS)} FROM api_keys "
                              "ORDER BY created, id").fetchall()
    except sqlite3.Error as exc:
        raise DatabaseSetupError(
            f"The old API key file {path} cannot be read ({exc}), so it was not imported: "
            "move it away, start KORA again and make new keys with `kora admin token add`."
            ) from exc
    return [dict(zip(API_KEY_COLUMNS, row, strict=True)) for row in rows]


def _read_feedback(path: Path) -> list[JSONObject]:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            rows = db.execute(f"SELECT {', '.join(CSV_COLUMNS)} FROM feedback ORDER BY id"
                              ).fetchall()
    except sqlite3.Error as exc:
        raise DatabaseSetupError(
            f"The old feedback file {path} cannot be read ({exc}), so it was not "
            "imported: move it away and start KORA again.") from exc
    return [dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows]


# an old SQLite file of a worker that was stopped without closing it still has part of
# its content in its write-ahead log: it belongs to the file, in the hash and the renaming
_SQLITE_COMPANIONS = ("-wal", "-shm")


def _digest(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes())
    wal = path.with_name(path.name + "-wal")
    if wal.is_file():
        digest.update(wal.read_bytes())
    return digest.hexdigest()


def _set_aside(path: Path) -> None:
    target = path.with_name(path.name + IMPORTED_SUFFIX)
    number = 1
    while target.exists():
        number += 1
        target = path.with_name(f"{path.name}{IMPORTED_SUFFIX}.{number}")
    path.rename(target)
    for suffix in _SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.is_file():  # still readable together with the renamed file
            companion.rename(target.with_name(target.name + suffix))


__all__ = ["IMPORTED_SUFFIX", "import_legacy_files"]
