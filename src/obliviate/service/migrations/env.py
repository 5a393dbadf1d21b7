"""Alembic's environment for the ledger: always run from ``schema.upgrade`` with an open
connection (whose transaction holds the whole upgrade), never from an ``alembic.ini``."""

from alembic import context

from obliviate.service.ledger import Base

connection = context.config.attributes["connection"]
# render_as_batch: SQLite cannot ALTER most things in place; batch mode copies the table.
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
