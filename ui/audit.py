"""The audit trail: every admin action, appended as one JSON line to ``audit.jsonl``.

Each line records the time (UTC), the account, the client address, the action, its
outcome, the documents it touched (id and SHA-256 of the content) and details such as
an ingest report. Nothing in KORA rewrites or deletes lines. Each line also carries a
hash over its content and the previous line's hash, so an edit or a deleted line made
outside KORA shows up in `kora audit` as a broken chain from that line on.

Several processes may append at once (the web app and `kora admin ...`): an exclusive
``flock`` around read-last-hash-and-append keeps the chain whole.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import io
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

AUDIT_FILE = "audit.jsonl"
GENESIS = "0" * 64
CSV_COLUMNS = ["time", "account", "client", "action", "outcome", "documents", "detail"]
_TAIL_BLOCK = 1 << 16


@dataclass(frozen=True)
class ChainCheck:
    entries: int
    intact: bool
    first_broken_line: int | None  # 1-based


def document_ref(doc_id: str, sha256: str | None) -> dict[str, str]:
    return {"doc_id": doc_id, "sha256": sha256 or ""}


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> AuditLog:
        return cls(data_dir / AUDIT_FILE)

    def append(self, *, action: str, account: str, client: str, outcome: str = "ok",
               documents: Iterable[dict[str, str]] = (),
               detail: dict[str, Any] | None = None) -> dict[str, Any]:
        record: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "account": account,
            "client": client,
            "action": action,
            "outcome": outcome,
            "documents": list(documents),
            "detail": detail or {},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # O_APPEND: every write lands at the end, whatever else has the file open
        descriptor = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        with open(descriptor, "r+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                previous, complete = _last_hash(handle)
                record["hash"] = _chain_hash(previous, record)
                # a line cut short by a crash stays as it is; the new one starts afresh
                handle.write((b"" if complete else b"\n") + _line(record))
                handle.flush()
                os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return record

    def entries(self, *, limit: int | None = None) -> list[dict[str, Any]]:
        """The entries, oldest first; with ``limit``, only the latest ones."""
        records = []
        for text in self._lines():
            try:
                records.append(json.loads(text))
            except ValueError:
                records.append({"action": "unreadable-line", "detail": {"line": text[:200]}})
        return records[-limit:] if limit else records

    def verify(self) -> ChainCheck:
        previous = GENESIS
        count = 0
        for number, text in enumerate(self._lines(), start=1):
            count = number
            try:
                record = json.loads(text)
                stored = record.pop("hash")
            except (ValueError, KeyError, AttributeError):
                return ChainCheck(number, False, number)
            if _chain_hash(previous, record) != stored:
                return ChainCheck(number, False, number)
            previous = stored
        return ChainCheck(count, True, None)

    def _lines(self) -> list[str]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        return [line for line in data.decode("utf-8", errors="replace").split("\n") if line]


def entries_csv(entries: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for entry in entries:
        writer.writerow(entry_row(entry))
    return buffer.getvalue()


def entry_row(entry: dict[str, Any]) -> dict[str, str]:
    """An entry flattened for a table or CSV: documents as "id (sha256 prefix)"."""
    documents = "; ".join(
        f"{doc.get('doc_id', '')} ({str(doc.get('sha256', ''))[:12]})"
        if doc.get("sha256") else str(doc.get("doc_id", ""))
        for doc in entry.get("documents") or [])
    detail = entry.get("detail") or {}
    return {
        "time": str(entry.get("time", "")),
        "account": str(entry.get("account", "")),
        "client": str(entry.get("client", "")),
        "action": str(entry.get("action", "")),
        "outcome": str(entry.get("outcome", "")),
        "documents": documents,
        "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else "",
    }


def _line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def _chain_hash(previous: str, record: dict[str, Any]) -> str:
    body = json.dumps({k: v for k, v in record.items() if k != "hash"},
                      ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(f"{previous}\n{body}".encode()).hexdigest()


def _last_hash(handle: Any) -> tuple[str, bool]:
    """The hash of the file's last line, read from the end (the log may be large), and
    whether the file ends with a complete line."""
    end = handle.seek(0, os.SEEK_END)
    if end == 0:
        return GENESIS, True
    handle.seek(end - 1)
    complete = handle.read(1) == b"\n"
    tail = b""
    position = end
    while position > 0:
        step = min(_TAIL_BLOCK, position)
        position -= step
        handle.seek(position)
        tail = handle.read(step) + tail
        lines = [line for line in tail.split(b"\n") if line.strip()]
        if len(lines) >= 2 or (lines and position == 0):
            try:
                return str(json.loads(lines[-1])["hash"]), complete
            except (ValueError, KeyError, TypeError):
                # a damaged last line: keep appending; `kora audit` reports the break
                return hashlib.sha256(lines[-1]).hexdigest(), complete
    return GENESIS, complete


__all__ = ["AUDIT_FILE", "AuditLog", "ChainCheck", "document_ref", "entries_csv", "entry_row"]
