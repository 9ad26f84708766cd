"""Named accounts for the web app: who may administer KORA (and, optionally, who may chat).

Passwords are kept only as scrypt hashes (memory-hard, from the standard library) in the
accounts table of people's database (``people.database``). It is read on every login and
every admin action, so `kora admin add|passwd|remove` take effect in every running worker
at once: a removed account or a changed password ends the sessions that depended on it.

Adding, removing and changing a password name who acts (``actor``) and are chained into
the audit trail in the same transaction as the change (as API keys are): no account
changes without its audit entry, and no entry records a change that did not happen.

The older single password from ``KORA_ADMIN_PASSWORD`` still opens the admin area, but
only while no named account exists: once there are names, a shared password would make
the audit trail say "somebody".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import delete, insert, select, update

from people.audit import AuditLog, new_record
from people.database import lock
from people.schema import accounts as _accounts
from people.schema import sessions as _sessions
from rag.errors import UsageError
from rag.jsontypes import JSONObject

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from people.database import Database

ACCOUNTS_FILE = "accounts.json"
PASSWORD_ENV = "KORA_ADMIN_PASSWORD"
ENV_ACCOUNT = "env:KORA_ADMIN_PASSWORD"  # how the shared password appears in the audit log
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024
Role = Literal["admin", "chat"]
ROLES: tuple[Role, ...] = ("admin", "chat")

# OWASP's minimum for scrypt: N=2^17, r=8, p=1 (128 MiB, about half a second here). The
# parameters travel with each hash, so raising them later keeps old hashes verifiable.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
_SALT_BYTES, _KEY_BYTES = 16, 32
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


class AccountError(UsageError):
    """A wrong account name, role or password in `kora admin`; exit code 2."""


@dataclass(frozen=True)
class Account:
    name: str
    role: Role
    password_hash: str | None  # None: signs in only through the trusted proxy header
    created: str
    password_changed: str

    @property
    def fingerprint(self) -> str:
        """Changes whenever the password or role changes; sessions remember it."""
        return hashlib.sha256(f"{self.role}\0{self.password_hash}".encode()).hexdigest()[:16]


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R,
                  p: int = SCRYPT_P) -> str:
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _scrypt(password, salt, n=n, r=r, p=p)
    return "$".join(["scrypt", str(n), str(r), str(p),
                     base64.b64encode(salt).decode(), base64.b64encode(key).decode()])


def verify_password(password: str, encoded: str) -> bool:
    try:
        kind, n, r, p, salt, key = encoded.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(key)
        given = _scrypt(password, base64.b64decode(salt), n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(given, expected)


def _scrypt(password: str, salt: bytes, *, n: int, r: int, p: int) -> bytes:
    # maxmem: scrypt needs 128 * r * n bytes plus a little; OpenSSL's default cap is 32 MiB
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=129 * r * n + (1 << 20), dklen=_KEY_BYTES)


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name or ""):
        raise AccountError(
            f"Invalid account name {name!r}: 1-64 characters, letters, digits and . _ @ -, "
            "starting with a letter or digit."
        )
    return name


def check_new_password(name: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"The password is too short: use at least {MIN_PASSWORD_CHARS} "
                           "characters (a passphrase of several words is easiest).")
    if len(password) > MAX_PASSWORD_CHARS:
        raise AccountError(f"The password is longer than {MAX_PASSWORD_CHARS} characters.")
    if password.strip().lower() == name.lower():
        raise AccountError("The password must not be the account name.")


def env_password() -> str | None:
    """KORA_ADMIN_PASSWORD, read from the environment on purpose (never from kora.toml or
    the settings), so that it lands neither in a config file nor in `kora config`."""
    return os.environ.get(PASSWORD_ENV) or None


class AccountStore:
    """The accounts table; every call reads the database afresh, so `kora admin` on any
    machine takes effect in every running worker at the next login or action."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._dummy_hash: str | None = None

    @property
    def location(self) -> str:
        return self.database.location

    # --- reading ----------------------------------------------------------------------

    def accounts(self) -> dict[str, Account]:
        with self.database.transaction() as connection:
            rows = connection.execute(select(_accounts).order_by(_accounts.c.name)).all()
        return {row.name: _account(row) for row in rows}

    def get(self, name: str) -> Account | None:
        with self.database.transaction() as connection:
            row = connection.execute(
                select(_accounts).where(_accounts.c.name == name)).first()
        return _account(row) if row is not None else None

    def has_accounts(self) -> bool:
        with self.database.transaction() as connection:
            return connection.execute(select(_accounts.c.name).limit(1)).first() is not None

    def authenticate(self, name: str, password: str) -> Account | None:
        """The account when ``name`` and ``password`` match, else None (same cost)."""
        account = self.get(name)
        encoded = account.password_hash if account and account.password_hash else None
        if encoded is None:
            # an unknown name costs as much as a known one: the answer time must not
            # tell which names exist
            if self._dummy_hash is None:
                self._dummy_hash = hash_password(secrets.token_urlsafe(16))
            verify_password(password, self._dummy_hash)
            return None
        return account if verify_password(password, encoded) else None

    # --- changing (the command line only) ----------------------------------------------

    def add(self, name: str, *, role: Role, password: str | None, actor: str,
            client: str = "local") -> Account:
        """A new account, audited as added by ``actor`` from ``client``."""
        check_name(name)
        if role not in ROLES:
            raise AccountError(f"Unknown role {role!r}: use one of {', '.join(ROLES)}.")
        if password is not None:
            check_new_password(name, password)
        # hashed before the transaction: half a second that holds no lock
        encoded = hash_password(password) if password is not None else None
        now = _now()
        account = Account(name=name, role=role, password_hash=encoded, created=now,
                          password_changed=now)
        with self.database.transaction(serialise="accounts") as connection:
            if connection.execute(select(_accounts.c.name)
                                  .where(_accounts.c.name == name)).first():
                raise AccountError(f"The account {name!r} exists already: change its "
                                   f"password with `kora admin passwd {name}`.")
            connection.execute(insert(_accounts).values(**asdict(account)))
            self._audit(connection, "account-add", name, actor=actor, client=client,
                        role=role, password=password is not None)
        return account

    def set_password(self, name: str, password: str, *, actor: str,
                     client: str = "local") -> Account:
        """A new password; the sessions that relied on the old one end (audited)."""
        check_new_password(name, password)
        encoded = hash_password(password)
        with self.database.transaction(serialise="accounts") as connection:
            changed = connection.execute(
                update(_accounts).where(_accounts.c.name == name)
                .values(password_hash=encoded, password_changed=_now())).rowcount
            if not changed:
                raise AccountError(f"No account {name!r}: see `kora admin list`.")
            # the sessions that depended on the old password end with it
            connection.execute(delete(_sessions).where(_sessions.c.account == name))
            self._audit(connection, "account-passwd", name, actor=actor, client=client)
            row = connection.execute(select(_accounts).where(_accounts.c.name == name)).one()
        return _account(row)

    def remove(self, name: str, *, actor: str, client: str = "local") -> Account:
        """Remove the account and end its sessions (audited); what it was, without hash."""
        with self.database.transaction(serialise="accounts") as connection:
            row = connection.execute(
                select(_accounts).where(_accounts.c.name == name)).first()
            if row is None:
                raise AccountError(f"No account {name!r}: see `kora admin list`.")
            connection.execute(delete(_accounts).where(_accounts.c.name == name))
            connection.execute(delete(_sessions).where(_sessions.c.account == name))
            self._audit(connection, "account-remove", name, actor=actor, client=client,
                        role=row.role)
        return replace(_account(row), password_hash=None)

    def _audit(self, connection: Connection, action: str, name: str, *, actor: str,
               client: str, **detail: object) -> None:
        lock(connection, "audit")  # after "accounts": the one order both are taken in
        AuditLog(self.database).append_in(connection, new_record(
            action=action, account=actor, client=client, detail={"target": name, **detail}))

    def import_rows(self, connection: Connection, entries: dict[str, JSONObject]
                    ) -> tuple[int, list[str]]:
        """Accounts from an old ``accounts.json`` inside the importing transaction: (added,
        names skipped because the database has them already)."""
        present = set(connection.execute(select(_accounts.c.name)).scalars())
        skipped = sorted(name for name in entries if name in present)
        rows = [{"name": name, "role": entry["role"],
                 "password_hash": entry.get("password_hash"), "created": entry["created"],
                 "password_changed": entry["password_changed"]}
                for name, entry in entries.items() if name not in present]
        if rows:
            connection.execute(insert(_accounts), rows)
        return len(rows), skipped


def _account(row: Any) -> Account:
    return Account(name=row.name, role=row.role, password_hash=row.password_hash,
                   created=row.created, password_changed=row.password_changed)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


__all__ = ["ACCOUNTS_FILE", "ENV_ACCOUNT", "PASSWORD_ENV", "ROLES", "Account", "AccountError",
           "AccountStore", "Role", "check_name", "env_password", "hash_password",
           "verify_password"]
