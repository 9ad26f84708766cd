"""Alembic migrations of people's data; ``people.database`` runs them at first use."""
