"""The one SQL database behind people's data, and how KORA talks to it.

``KORA_DATABASE_URL`` unset: a SQLite file in the data directory (nothing to set up, one
machine). ``postgresql+psycopg://user:password@host/db``: PostgreSQL shared by every
worker. The schema is brought up to date (Alembic) and the old per-worker files are
imported on first use, not at import time or at start: a worker whose database is down
keeps answering questions and catches up when the database is back.

Every change is one transaction. Where order matters across machines (the audit chain,
login failures) a transaction is serialised: in PostgreSQL by a transaction-scoped
advisory lock, in SQLite by ``BEGIN IMMEDIATE`` (the file's write lock, taken at the
start of every transaction, so a read-then-write never races another process).
"""

from __future__ import annotations

import contextlib
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import KoraError
from rag.jsontypes import JSONObject

if TYPE_CHECKING:
    import sqlite3
    from types import ModuleType

    from sqlalchemy import Connection, Engine
    from sqlalchemy.pool import ConnectionPoolEntry

    from rag.settings import Settings

DATABASE_FILE = "people.sqlite"
POSTGRES_INSTALL_HINT = "pip install 'kora[postgres]'"
_CONNECT_TIMEOUT_SECONDS = 5
_SQLITE_BUSY_MS = 30_000


class DatabaseUnavailableError(KoraError):
    """The database cannot be reached (or is locked too long). Nothing was changed; the
    next action tries again, so it passes by itself when the database is back."""


class DatabaseSetupError(KoraError):
    """A wrong KORA_DATABASE_URL, a missing driver, or old files that must not be
    imported (a broken audit chain): fixing it takes a person."""


def shown_url(url: str) -> str:
    """The URL with its password replaced by ***: safe for logs, status and config."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unreadable URL)"


class Database:
    """An engine plus KORA's rules for it: migrated and imported once, errors translated,
    transactions serialised where asked. Safe to share between threads."""

    def __init__(self, url: str | None, *, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.sqlite_path: Path | None = None
        if url is None:
            self.sqlite_path = data_dir / DATABASE_FILE
            url = f"sqlite:///{self.sqlite_path}"
        self.url = url
        self._engine: Engine | None = None
        self._ready = False
        self._ready_lock = threading.Lock()

    @classmethod
    def for_settings(cls, settings: Settings) -> Database:
        return cls(settings.database_url, data_dir=settings.data_dir)

    @property
    def location(self) -> str:
        """Where people's data lives, for `kora status` (no password)."""
        if self.sqlite_path is not None:
            return f"sqlite:{self.sqlite_path.resolve()}"
        return shown_url(self.url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._create_engine()
        return self._engine

    def _create_engine(self) -> Engine:
        from sqlalchemy import create_engine, event
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        try:
            if self.sqlite_path is not None:
                self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(self.url, connect_args={"timeout": _SQLITE_BUSY_MS / 1000})
                _sqlite_rules(engine, event)
                return engine
            return create_engine(self.url, pool_pre_ping=True, pool_size=5, max_overflow=5,
                                 connect_args=_connect_args(self.url))
        except (NoSuchModuleError, ModuleNotFoundError) as exc:
            if self.url.startswith("postgresql") and isinstance(exc, ModuleNotFoundError):
                raise DatabaseSetupError(f"The PostgreSQL driver is not installed: "
                                         f"{POSTGRES_INSTALL_HINT}.") from exc
            raise DatabaseSetupError(f"KORA_DATABASE_URL names a database KORA has no driver "
                                     f"for ({shown_url(self.url)}): use sqlite or "
                                     "postgresql+psycopg.") from exc
        except ArgumentError as exc:
            raise DatabaseSetupError(f"KORA_DATABASE_URL cannot be read ({exc}); e.g. "
                                     "postgresql+psycopg://kora:PASSWORD@db.stadt.example/kora"
                                     ) from exc

    # --- use --------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, *, serialise: str | None = None,
                    prepare: bool = True) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back on any error.
        ``serialise`` names an order shared by every worker (e.g. "audit"): only one
        transaction of that name runs at a time, on whatever machine. ``prepare=False``
        only for the import that preparing runs."""
        if prepare:
            self.ensure_ready()
        with self._translated(), self.engine.begin() as connection:
            if serialise:
                lock(connection, serialise)
            yield connection

    def ensure_ready(self) -> None:
        """Migrate and import the old files, once per process and only on success."""
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            with self._translated():
                self._migrate()
            from people.legacy import import_legacy_files

            import_legacy_files(self)
            self._ready = True

    def _migrate(self) -> None:
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location",
                               str(Path(__file__).resolve().parent / "migrations"))
        with self.engine.begin() as connection:
            # two workers starting at once: one migrates, the other then finds it done
            lock(connection, "migrate")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        if self.sqlite_path is not None:
            for path in (self.sqlite_path, *(self.sqlite_path.with_name(
                    self.sqlite_path.name + suffix) for suffix in ("-wal", "-shm"))):
                with contextlib.suppress(FileNotFoundError):
                    path.chmod(0o600)  # password hashes and staff questions

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        from sqlalchemy.exc import DBAPIError, OperationalError

        try:
            yield
        except OperationalError as exc:
            raise DatabaseUnavailableError(self._unavailable(exc)) from exc
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise DatabaseUnavailableError(self._unavailable(exc)) from exc
            raise

    def _unavailable(self, exc: BaseException) -> str:
        if self.sqlite_path is not None:
            return (f"The database file {self.sqlite_path} cannot be used "
                    f"({_first_line(exc)}): check the disk and the file's permissions; "
                    "nothing was changed.")
        return (f"The database {self.location} cannot be reached ({_first_line(exc)}): "
                "check that PostgreSQL runs and KORA_DATABASE_URL; nothing was changed.")

    def flush_to_file(self) -> None:
        """SQLite: move the write-ahead log into the file and empty it, so that rows just
        deleted survive in neither. Nothing to do for PostgreSQL."""
        if self.sqlite_path is None:
            return
        with self._translated():
            # outside any transaction (a checkpoint cannot run inside one)
            raw = self.engine.raw_connection()
            try:
                raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.close()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def lock(connection: Connection, name: str) -> None:
    """Serialise the rest of this transaction with every other one that locks ``name``."""
    from sqlalchemy import text

    if connection.dialect.name == "postgresql":
        key = zlib.crc32(f"kora:{name}".encode())
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    # SQLite: every transaction began with BEGIN IMMEDIATE and holds the write lock


def _sqlite_rules(engine: Engine, event: ModuleType) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection,
                    _record: ConnectionPoolEntry) -> None:
        # the driver's own transaction handling would BEGIN only at the first write;
        # KORA begins itself (below) so that a read-then-write cannot interleave
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA secure_delete = ON")  # purged feedback is overwritten
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _connect_args(url: str) -> JSONObject:
    if url.startswith("postgresql"):
        return {"connect_timeout": _CONNECT_TIMEOUT_SECONDS,
                "application_name": "kora"}
    return {}


def _first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return (text[0] if text else type(original).__name__)[:200]


__all__ = ["DATABASE_FILE", "Database", "DatabaseSetupError", "DatabaseUnavailableError",
           "lock", "shown_url"]
