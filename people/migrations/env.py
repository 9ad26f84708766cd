"""Alembic's entry: KORA always hands in an open connection (``people.database``), so the
migrations run inside the lock and transaction it chose; `alembic` on the command line is
not needed to install or upgrade KORA."""

from __future__ import annotations

from alembic import context

from people.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("KORA's migrations run through people.database, with a connection")
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
