"""Named accounts for the web app: who may administer KORA (and, optionally, who may chat).

Passwords are kept only as scrypt hashes (memory-hard, from the standard library) in
``accounts.json`` in the data directory, readable by its owner only (0600). The file is
read on every login and every admin action, so `kora admin add|passwd|remove` take
effect in a running server at once: a removed account or a changed password ends the
sessions that depended on it.

The older single password from ``KORA_ADMIN_PASSWORD`` still opens the admin area, but
only while no named account exists: once there are names, a shared password would make
the audit trail say "somebody".
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from rag.errors import KoraError, UsageError

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
    """``accounts.json`` in the data directory; every call reads the file afresh."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._dummy_hash: str | None = None

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> AccountStore:
        return cls(data_dir / ACCOUNTS_FILE)

    # --- reading ----------------------------------------------------------------------

    def accounts(self) -> dict[str, Account]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise KoraError(f"The account file {self.path} cannot be read ({type(exc).__name__}):"
                            " restore it from a backup or remove it and add the accounts "
                            "again with `kora admin add`.") from exc
        return {name: Account(name=name, role=entry["role"],
                              password_hash=entry.get("password_hash"),
                              created=entry["created"],
                              password_changed=entry["password_changed"])
                for name, entry in raw.get("accounts", {}).items()}

    def get(self, name: str) -> Account | None:
        return self.accounts().get(name)

    def has_accounts(self) -> bool:
        return bool(self.accounts())

    def loose_permissions(self) -> bool:
        """True when others than the owner could read the file (it is then fixed)."""
        try:
            mode = stat.S_IMODE(self.path.stat().st_mode)
        except FileNotFoundError:
            return False
        if mode & 0o077:
            self.path.chmod(0o600)
            return True
        return False

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

    def add(self, name: str, *, role: Role, password: str | None) -> Account:
        check_name(name)
        if role not in ROLES:
            raise AccountError(f"Unknown role {role!r}: use one of {', '.join(ROLES)}.")
        if password is not None:
            check_new_password(name, password)
        with self._locked() as data:
            if name in data["accounts"]:
                raise AccountError(f"The account {name!r} exists already: change its "
                                   f"password with `kora admin passwd {name}`.")
            now = _now()
            data["accounts"][name] = {
                "role": role,
                "password_hash": hash_password(password) if password is not None else None,
                "created": now, "password_changed": now,
            }
        account = self.get(name)
        assert account is not None
        return account

    def set_password(self, name: str, password: str) -> Account:
        check_new_password(name, password)
        with self._locked() as data:
            entry = data["accounts"].get(name)
            if entry is None:
                raise AccountError(f"No account {name!r}: see `kora admin list`.")
            entry["password_hash"] = hash_password(password)
            entry["password_changed"] = _now()
        account = self.get(name)
        assert account is not None
        return account

    def remove(self, name: str) -> Account:
        with self._locked() as data:
            entry = data["accounts"].pop(name, None)
            if entry is None:
                raise AccountError(f"No account {name!r}: see `kora admin list`.")
        return Account(name=name, role=entry["role"], password_hash=None,
                       created=entry["created"], password_changed=entry["password_changed"])

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """Read, change and write the file under a lock (two `kora admin` at once)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        with open(descriptor, "r+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                raw = json.loads(self.path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raw = {"version": 1, "accounts": {}}
            yield raw
            self._write(raw)

    def _write(self, data: dict[str, Any]) -> None:
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        temporary.unlink(missing_ok=True)
        # created 0600 from the first byte: no moment in which others could read hashes
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(descriptor, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


__all__ = ["ACCOUNTS_FILE", "ENV_ACCOUNT", "PASSWORD_ENV", "Account", "AccountError",
           "AccountStore", "check_name", "env_password", "hash_password", "verify_password"]
