"""The audit trail: every admin action, one entry in the audit table of people's database.

Each entry records the time (UTC), the account, the client address, the action, its
outcome, the documents it touched (id and SHA-256 of the content) and details such as
an ingest report. Nothing in KORA rewrites or deletes entries. Each entry also carries
a hash over its content and the previous entry's hash, so an edit or a deleted entry
made outside KORA shows up in `kora audit` as a broken chain from that entry on.

Every worker on every machine and every `kora admin ...` appends to the same chain: the
read-last-hash-and-insert runs in a transaction serialised across all of them
(``Database.transaction(serialise="audit")``), so the chain follows the commit order and
``seq``, the primary key, can never fork.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from sqlalchemy import insert, select

from people.schema import audit as _audit
from rag.jsontypes import JSONObject

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from people.database import Database

AUDIT_FILE = "audit.jsonl"
GENESIS = "0" * 64
CSV_COLUMNS = ["time", "account", "client", "action", "outcome", "documents", "detail"]
_PAGE = 5_000


@dataclass(frozen=True)
class ChainCheck:
    entries: int
    intact: bool
    first_broken_line: int | None  # 1-based: the entry's number in the chain


def document_ref(doc_id: str, sha256: str | None) -> dict[str, str]:
    return {"doc_id": doc_id, "sha256": sha256 or ""}


class AuditLog:
    """The audit table: one chain for every worker and command, in commit order."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @property
    def location(self) -> str:
        return self.database.location

    def append(self, *, action: str, account: str, client: str, outcome: str = "ok",
               documents: Iterable[dict[str, str]] = (),
               detail: Mapping[str, object] | None = None) -> JSONObject:
        record = new_record(action=action, account=account, client=client, outcome=outcome,
                            documents=documents, detail=detail)
        with self.database.transaction(serialise="audit") as connection:
            return self.append_in(connection, record)

    def append_in(self, connection: Connection, record: JSONObject) -> JSONObject:
        """Chain ``record`` on inside a transaction serialised on "audit" (the import
        writes its entries this way, in its own transaction)."""
        last = connection.execute(
            select(_audit.c.seq, _audit.c.hash).order_by(_audit.c.seq.desc()).limit(1)
        ).first()
        previous, seq = (last.hash, last.seq + 1) if last is not None else (GENESIS, 1)
        record = {k: v for k, v in record.items() if k != "hash"}
        record["hash"] = _chain_hash(previous, record)
        connection.execute(insert(_audit).values(
            seq=seq, time=str(record.get("time", "")),
            account=str(record.get("account", ""))[:200],
            action=str(record.get("action", ""))[:64],
            outcome=str(record.get("outcome", ""))[:32],
            record=_body(record), hash=record["hash"]))
        return record

    def entries(self, *, limit: int | None = None) -> list[JSONObject]:
        """The entries, oldest first; with ``limit``, only the latest ones."""
        query = select(_audit.c.record, _audit.c.hash).order_by(_audit.c.seq.desc())
        if limit:
            query = query.limit(limit)
        with self.database.transaction() as connection:
            rows = connection.execute(query).all()
        records = []
        for row in reversed(rows):
            try:
                records.append({**json.loads(row.record), "hash": row.hash})
            except ValueError:
                records.append({"action": "unreadable-entry",
                                "detail": {"entry": row.record[:200]}})
        return records

    def verify(self) -> ChainCheck:
        """Walk the whole chain in pages; the first entry whose hash does not follow."""
        previous = GENESIS
        count = 0
        after = 0
        while True:
            with self.database.transaction() as connection:
                rows = connection.execute(
                    select(_audit.c.seq, _audit.c.record, _audit.c.hash)
                    .where(_audit.c.seq > after).order_by(_audit.c.seq).limit(_PAGE)).all()
            if not rows:
                return ChainCheck(count, True, None)
            for row in rows:
                count += 1
                try:
                    record = json.loads(row.record)
                except ValueError:
                    return ChainCheck(count, False, count)
                # a deleted entry leaves a gap in the numbering; an edited one a wrong hash
                if row.seq != count or _chain_hash(previous, record) != row.hash:
                    return ChainCheck(count, False, count)
                previous = row.hash
            after = rows[-1].seq


def new_record(*, action: str, account: str, client: str, outcome: str = "ok",
               documents: Iterable[dict[str, str]] = (),
               detail: Mapping[str, object] | None = None) -> JSONObject:
    """An entry as it is chained, stamped now (``append_in`` adds its hash)."""
    return {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "account": account,
        "client": client,
        "action": action,
        "outcome": outcome,
        "documents": list(documents),
        "detail": detail or {},
    }


def verify_lines(lines: Iterable[str]) -> tuple[ChainCheck, list[JSONObject]]:
    """An old ``audit.jsonl``'s chain, and its records when it is whole."""
    previous = GENESIS
    records = []
    for number, text in enumerate(lines, start=1):
        try:
            record = json.loads(text)
            stored = record.pop("hash")
        except (ValueError, KeyError, AttributeError):
            return ChainCheck(number, False, number), []
        if _chain_hash(previous, record) != stored:
            return ChainCheck(number, False, number), []
        previous = stored
        records.append(record)
    return ChainCheck(len(records), True, None), records


def entries_csv(entries: list[JSONObject]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for entry in entries:
        writer.writerow(entry_row(entry))
    return buffer.getvalue()


def entry_row(entry: JSONObject) -> dict[str, str]:
    """An entry flattened for a table or CSV: documents as "id (sha256 prefix)"."""
    documents = "; ".join(
        f"{doc.get('doc_id', '')} ({str(doc.get('sha256', ''))[:12]})"
        if doc.get("sha256") else str(doc.get("doc_id", ""))
        for doc in cast("list[JSONObject]", entry.get("documents") or []))
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


def _body(record: JSONObject) -> str:
    return json.dumps({k: v for k, v in record.items() if k != "hash"},
                      ensure_ascii=False, sort_keys=True)


def _chain_hash(previous: str, record: JSONObject) -> str:
    return hashlib.sha256(f"{previous}\n{_body(record)}".encode()).hexdigest()


__all__ = ["AUDIT_FILE", "AuditLog", "ChainCheck", "document_ref", "entries_csv", "entry_row",
           "new_record", "verify_lines"]
