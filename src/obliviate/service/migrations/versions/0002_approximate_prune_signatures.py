"""The approximate policy's retrain jobs (``jobs.kind``), pruned versions
(``versions.pruned``) and Ed25519-signed audit entries (``audit.signature``, ``audit_key``).

Existing jobs were all batches of deletions; existing audit entries have no signature until
``schema.upgrade`` signs them (after checking their hash chain) in its own transaction.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as t:
        t.add_column(sa.Column("kind", sa.String(16), nullable=False,
                               server_default="deletions"))
    with op.batch_alter_table("versions") as t:
        t.add_column(sa.Column("pruned", sa.Float, nullable=True))
    with op.batch_alter_table("audit") as t:
        t.add_column(sa.Column("signature", sa.String(128), nullable=True))
    op.create_table(
        "audit_key",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("created", sa.Float, nullable=False))


def downgrade() -> None:
    op.drop_table("audit_key")
    with op.batch_alter_table("audit") as t:
        t.drop_column("signature")
    with op.batch_alter_table("versions") as t:
        t.drop_column("pruned")
    with op.batch_alter_table("jobs") as t:
        t.drop_column("kind")
