"""Alembic migrations of the ledger's schema (``service/schema.py`` runs them)."""
