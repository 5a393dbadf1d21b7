"""SQLite index of run records (the embedded default); any SQLAlchemy URL may replace it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from obliviate.errors import ObliviateError

metadata = sa.MetaData()
runs = sa.Table(
    "runs", metadata,
    sa.Column("run_id", sa.String(128), primary_key=True),
    sa.Column("created", sa.String(40), nullable=False),
    sa.Column("scenario", sa.String(512), nullable=False),
    sa.Column("forget", sa.String(512), nullable=False),
    sa.Column("method", sa.String(64), nullable=False),
    sa.Column("seed", sa.Integer, nullable=False),
    sa.Column("avg_gap", sa.Float),
    sa.Column("time_ratio", sa.Float),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("record", sa.Text, nullable=False),
)


def _safe(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # not even a URL: nothing to hide
        return url


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


class Store:
    def __init__(self, url: str) -> None:
        try:
            self.engine = sa.create_engine(url)
            self._create_tables()
        except (SQLAlchemyError, ValueError, ImportError) as e:
            raise ObliviateError(f"cannot open run store {_safe(url)!r}: "
                                 f"{e.__class__.__name__}: {str(e).splitlines()[0]}") from None

    def _create_tables(self) -> None:
        """Create the table if missing. Two processes opening a new store at once both see
        no table and both create it: the loser's "already exists" is the state it wanted."""
        try:
            metadata.create_all(self.engine)
        except sa.exc.OperationalError as e:
            if "already exists" not in str(e):
                raise
            metadata.create_all(self.engine)  # checkfirst now sees the table

    def add(self, record: dict[str, Any], path: str | Path) -> None:
        """Index ``record`` (insert or replace), in one transaction."""
        row = {
            "run_id": record["run_id"], "created": record["created"],
            "scenario": record["scenario"]["name"], "forget": record["scenario"]["forget"],
            "method": record["method"]["name"], "seed": record["scenario"]["seed"],
            "avg_gap": record["metrics"].get("Avg.Gap", {}).get("unlearned"),
            "time_ratio": record["efficiency"].get("ratio"),
            "path": str(path), "record": json.dumps(record),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(runs.delete().where(runs.c.run_id == row["run_id"]))
                conn.execute(runs.insert().values(**row))
        except SQLAlchemyError as e:
            raise ObliviateError(f"run {row['run_id']} was written to {path} but could not be "
                                 f"indexed in the store ({str(e).splitlines()[0]}); index it "
                                 "again later") from None

    def list(self) -> list[dict[str, Any]]:
        cols = [c for c in runs.c if c.name != "record"]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*cols).order_by(runs.c.created)).mappings().all()
        return [dict(r) for r in rows]

    def get(self, run_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            text = conn.execute(sa.select(runs.c.record).where(runs.c.run_id == run_id)
                                ).scalar_one_or_none()
        if text is None:
            raise ObliviateError(f"no run {run_id!r} in the store")
        return dict(json.loads(text))
