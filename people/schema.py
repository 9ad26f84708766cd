"""The tables of people's data. The migrations in ``people/migrations`` create them; this
module is what the code reads and writes through (SQLAlchemy Core, no ORM: every query
is visible where it runs).

Times are ISO 8601 text in UTC (they sort as text and read the same in SQLite
and PostgreSQL); the throttling and session clocks are epoch seconds, shared by every
worker on every machine.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text

metadata = MetaData()

accounts = Table(
    "accounts", metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=True),  # None: proxy sign-in only
    Column("created", String(40), nullable=False),
    Column("password_changed", String(40), nullable=False),
)

api_keys = Table(
    "api_keys", metadata,
    Column("id", String(16), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("created", String(40), nullable=False),
    Column("expires", String(40), nullable=True),
    Column("revoked", String(40), nullable=True),
    Column("requests", Integer, nullable=False, server_default="0"),
    Column("last_used", String(40), nullable=True),
)

# failed logins per key ("account:NAME", "client:ADDRESS"), shared by all workers
login_failures = Table(
    "login_failures", metadata,
    Column("key", String(200), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("last", Float, nullable=False),
    Column("locked_until", Float, nullable=False),
)

# admin web sessions: only the SHA-256 of the browser's token is stored
sessions = Table(
    "sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("account", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("fingerprint", String(32), nullable=False),
    Column("client", String(200), nullable=False),
    Column("last_seen", Float, nullable=False),
)

# the audit chain: ``seq`` is the commit order, ``record`` the entry as JSON (what the
# hash covers), the other columns copies of its fields for queries
audit = Table(
    "audit", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("time", String(40), nullable=False),
    Column("account", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("record", Text, nullable=False),
    Column("hash", String(64), nullable=False),
)

feedback = Table(
    "feedback", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", String(40), nullable=False, index=True),
    Column("rating", Integer, nullable=False),
    Column("comment", Text, nullable=False),
    Column("question", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("sources", Text, nullable=False),
    # the id of the golden-local case an admin made of it ("aufnehmen"), else None
    Column("case_id", String(64), nullable=True),
)

# questions KORA refused, kept only with record_unanswered on: the text and its time,
# nothing of who asked (no account, address or session)
unanswered = Table(
    "unanswered", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", String(40), nullable=False, index=True),
    Column("question", Text, nullable=False),
)

# the old per-worker files already imported (by content hash): an import runs once even
# when it was interrupted between its commit and the file's renaming
legacy_imports = Table(
    "legacy_imports", metadata,
    Column("sha256", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("source", Text, nullable=False),
    Column("imported_at", String(40), nullable=False),
    Column("rows", Integer, nullable=False),
)

__all__ = ["accounts", "api_keys", "audit", "feedback", "legacy_imports", "login_failures",
           "metadata", "sessions", "unanswered"]
