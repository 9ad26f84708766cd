"""API keys for the OpenAI-compatible HTTP API (`kora admin token add|list|revoke`), in the
api_keys table of people's database (``people.database``).

A key is shown once, when it is made; KORA keeps only its SHA-256 (a key is 256 random
bits, so a fast hash is safe here, unlike for passwords, and checking it costs nothing
per request). Each key belongs to a named client (a portal, a team, a person) and may
expire. Requests are counted per key. Every worker reads the same table, so a key made
or revoked with `kora admin token` counts in every running worker at its next request.

``ApiKeyStore`` is the interface the API and the command line use; ``DatabaseApiKeyStore``
is its implementation. Adding and revoking name who acts (``actor``) and are chained into
the audit trail in the same transaction as the change: there is no key the audit trail
does not know of, and no audit entry for a key that was not made.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from sqlalchemy import insert, or_, select, update

from people.audit import AuditLog, new_record
from people.database import lock
from people.schema import api_keys as _keys
from rag.errors import UsageError
from rag.jsontypes import JSONObject

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from people.database import Database

API_KEYS_FILE = "api_keys.sqlite"  # where each worker kept its keys before (imported once)
KEY_PREFIX = "kora-"
_KEY = re.compile(r"kora-([0-9a-f]{8})-([A-Za-z0-9_-]{43})")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@ -]{0,63}")
MAX_EXPIRES_DAYS = 3650
COLUMNS = ("id", "name", "hash", "created", "expires", "revoked", "requests", "last_used")

Refusal = Literal["unknown", "revoked", "expired", "malformed"]


class ApiKeyError(UsageError):
    """A wrong name, id or expiry in `kora admin token`; exit code 2."""


@dataclass(frozen=True)
class ApiKey:
    """What KORA knows of a key: never the key itself."""

    id: str  # 8 hex digits, part of the key, safe to show and log
    name: str
    created: str  # ISO 8601, UTC
    expires: str | None
    revoked: str | None
    requests: int
    last_used: str | None

    def state(self, now: datetime | None = None) -> str:
        if self.revoked:
            return "revoked"
        if self.expires and datetime.fromisoformat(self.expires) <= (now or _now()):
            return "expired"
        return "active"


@dataclass(frozen=True)
class KeyCheck:
    key: ApiKey | None
    refusal: Refusal | None = None
    key_id: str | None = None  # the id the presented key claims (for throttling and logs)


class ApiKeyStore(Protocol):
    def add(self, name: str, *, actor: str, client: str = "local",
            expires_days: float | None = None) -> tuple[ApiKey, str]: ...
    def entries(self) -> list[ApiKey]: ...
    def revoke(self, id_or_name: str, *, actor: str, client: str = "local") -> list[ApiKey]: ...
    def check(self, presented: str) -> KeyCheck: ...
    def count_request(self, key_id: str) -> None: ...
    def close(self) -> None: ...


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_client_name(name: str) -> str:
    name = (name or "").strip()
    if not _NAME.fullmatch(name):
        raise ApiKeyError(
            f"Invalid client name {name!r}: 1-64 characters, letters, digits, spaces and "
            ". _ @ -, starting with a letter or digit (e.g. open-webui or anna.schmidt).")
    return name


_SHOWN = (_keys.c.id, _keys.c.name, _keys.c.created, _keys.c.expires, _keys.c.revoked,
          _keys.c.requests, _keys.c.last_used)


class DatabaseApiKeyStore:
    """The api_keys table: one set of keys for every worker and command."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @property
    def location(self) -> str:
        return self.database.location

    def add(self, name: str, *, actor: str, client: str = "local",
            expires_days: float | None = None) -> tuple[ApiKey, str]:
        """A new key for ``name``, audited as made by ``actor``: (what is stored, the key
        to hand over once)."""
        name = check_client_name(name)
        if expires_days is not None and not 0 < expires_days <= MAX_EXPIRES_DAYS:
            raise ApiKeyError(f"--expires takes 1 to {MAX_EXPIRES_DAYS} days.")
        now = _now()
        expires = (now + timedelta(days=expires_days)).isoformat(timespec="seconds") \
            if expires_days is not None else None
        # serialised: two commands drawing the same 32-bit id at once must not both insert
        with self.database.transaction(serialise="api-keys") as connection:
            while True:
                key_id = secrets.token_hex(4)
                if connection.execute(select(_keys.c.id).where(_keys.c.id == key_id)
                                      ).first() is None:
                    break
            secret = f"{KEY_PREFIX}{key_id}-{secrets.token_urlsafe(32)}"
            connection.execute(insert(_keys).values(
                id=key_id, name=name, hash=key_hash(secret),
                created=now.isoformat(timespec="seconds"), expires=expires))
            key = _get(connection, key_id)
            self._audit(connection, "api-key-add", key, actor=actor, client=client,
                        expires=key.expires)
        return key, secret

    def entries(self) -> list[ApiKey]:
        with self.database.transaction() as connection:
            rows = connection.execute(select(*_SHOWN).order_by(_keys.c.created, _keys.c.id)
                                      ).all()
        return [_key(row) for row in rows]

    def revoke(self, id_or_name: str, *, actor: str, client: str = "local") -> list[ApiKey]:
        """Revoke the key with this id, or every active key of this client name; one
        audit entry per key, as revoked by ``actor``."""
        now = _now().isoformat(timespec="seconds")
        with self.database.transaction(serialise="api-keys") as connection:
            ids = list(connection.execute(
                select(_keys.c.id).where(or_(_keys.c.id == id_or_name,
                                             _keys.c.name == id_or_name),
                                         _keys.c.revoked.is_(None))
                .order_by(_keys.c.created, _keys.c.id)).scalars())
            if not ids:
                raise ApiKeyError(f"No active key with id or name {id_or_name!r}: see "
                                  "`kora admin token list`.")
            connection.execute(update(_keys).where(_keys.c.id.in_(ids)).values(revoked=now))
            revoked = [_get(connection, key_id) for key_id in ids]
            for key in revoked:
                self._audit(connection, "api-key-revoke", key, actor=actor, client=client)
        return revoked

    def check(self, presented: str) -> KeyCheck:
        match = _KEY.fullmatch(presented or "")
        if match is None:
            return KeyCheck(None, "malformed")
        key_id = match.group(1)
        with self.database.transaction() as connection:
            row = connection.execute(select(_keys.c.hash, *_SHOWN)
                                     .where(_keys.c.id == key_id)).first()
        # compared in constant time even when the id is unknown
        expected = row.hash if row is not None else key_hash(secrets.token_urlsafe(32))
        if not hmac.compare_digest(key_hash(presented), expected) or row is None:
            return KeyCheck(None, "unknown", key_id)
        key = _key(row)
        state = key.state()
        if state != "active":
            return KeyCheck(None, "revoked" if state == "revoked" else "expired", key_id)
        return KeyCheck(key, None, key_id)

    def count_request(self, key_id: str) -> None:
        # one UPDATE, no read: concurrent workers add up without a lock
        with self.database.transaction() as connection:
            connection.execute(update(_keys).where(_keys.c.id == key_id).values(
                requests=_keys.c.requests + 1, last_used=_now().isoformat(timespec="seconds")))

    def _audit(self, connection: Connection, action: str, key: ApiKey, *, actor: str,
               client: str, **detail: object) -> None:
        lock(connection, "audit")  # after "api-keys": the one order both are taken in
        AuditLog(self.database).append_in(connection, new_record(
            action=action, account=actor, client=client,
            detail={"target": key.name, "key_id": key.id, **detail}))

    def close(self) -> None:
        """The database belongs to whoever opened it (``People``): nothing to close here."""

    @staticmethod
    def import_rows(connection: Connection, rows: list[JSONObject]) -> tuple[int, list[str]]:
        """Keys from an old ``api_keys.sqlite`` inside the importing transaction: (added,
        ids skipped because the database has them already)."""
        present = set(connection.execute(select(_keys.c.id)).scalars())
        skipped = sorted(str(row["id"]) for row in rows if row["id"] in present)
        new = [{column: row[column] for column in COLUMNS}
               for row in rows if row["id"] not in present]
        if new:
            connection.execute(insert(_keys), new)
        return len(new), skipped


def _get(connection: Connection, key_id: str) -> ApiKey:
    return _key(connection.execute(select(*_SHOWN).where(_keys.c.id == key_id)).one())


def _key(row: Any) -> ApiKey:
    return ApiKey(id=row.id, name=row.name, created=row.created, expires=row.expires,
                  revoked=row.revoked, requests=int(row.requests), last_used=row.last_used)


def _now() -> datetime:
    return datetime.now(UTC)


__all__ = ["API_KEYS_FILE", "ApiKey", "ApiKeyError", "ApiKeyStore", "DatabaseApiKeyStore",
           "KeyCheck", "check_client_name", "key_hash"]
