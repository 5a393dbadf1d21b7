"""The first ledger (the exact policy): deployments, manifest, versions, requests, jobs,
tokens and the hash-chained audit log, unsigned.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("policy", sa.String(16), nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("root", sa.Text, nullable=False),
        sa.Column("current_version", sa.Integer, nullable=True),
        sa.Column("batch_seq", sa.Integer, nullable=False),
        sa.Column("created", sa.Float, nullable=False))
    op.create_table(
        "manifest",
        sa.Column("deployment_id", sa.String(32), sa.ForeignKey("deployments.id"),
                  primary_key=True),
        sa.Column("row_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(256), nullable=False, index=True),
        sa.Column("deleted_in", sa.Integer, nullable=True))
    op.create_table(
        "versions",
        sa.Column("deployment_id", sa.String(32), sa.ForeignKey("deployments.id"),
                  primary_key=True),
        sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("parent", sa.Integer, nullable=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("method", sa.String(64), nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("requests", sa.Text, nullable=False),
        sa.Column("rows_removed", sa.Text, nullable=False),
        sa.Column("verification", sa.Text, nullable=False),
        sa.Column("job_id", sa.Integer, nullable=True, unique=True),
        sa.Column("created", sa.Float, nullable=False))
    op.create_table(
        "requests",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("deployment_id", sa.String(32), sa.ForeignKey("deployments.id"),
                  nullable=False, index=True),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(256), nullable=True),
        sa.Column("row_ids", sa.Text, nullable=True),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("job_id", sa.Integer, nullable=True, index=True),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("token_id", sa.String(32), nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("updated", sa.Float, nullable=False),
        sa.UniqueConstraint("deployment_id", "idempotency_key"))
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("deployment_id", sa.String(32), sa.ForeignKey("deployments.id"),
                  nullable=False, index=True),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("parent", sa.Integer, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires", sa.Float, nullable=True),
        sa.Column("next_attempt", sa.Float, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("updated", sa.Float, nullable=False))
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False, index=True),
        sa.Column("scopes", sa.String(64), nullable=False),
        sa.Column("salt", sa.LargeBinary(32), nullable=False),
        sa.Column("digest", sa.LargeBinary(64), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("expires", sa.Float, nullable=True),
        sa.Column("revoked", sa.Float, nullable=True))
    op.create_table(
        "audit",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("deployment_id", sa.String(32), nullable=True),
        sa.Column("object_id", sa.String(64), nullable=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("hash", sa.String(64), nullable=False, unique=True))
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False))


def downgrade() -> None:
    for table in ("audit_head", "audit", "tokens", "jobs", "requests", "versions", "manifest",
                  "deployments"):
        op.drop_table(table)
