"""The rows a deployment is trained on, and whose they are: a bundled scenario (row ``r``
belongs to subject ``user-<r mod subjects>``: the bundled data has no people in it) or the
user's own CSV with a subject column (``deploy --data t.csv --label y --subject-column u``),
read by the same reader as ``obliviate run --data`` (``tasks/classification/user.py``).

A worker rebuilds the training rows from the file for every job, so the file is pinned by
its sha256 at deploy time: the deployment's models are functions of those exact rows, and a
changed file is refused with a message instead of silently retraining shards on other data.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Protocol

from obliviate.errors import DataError, ObliviateError
from obliviate.scenarios import SCENARIOS
from obliviate.storage.sidecar import sha256_file as file_sha256
from obliviate.tasks.classification.scenario import Scenario, ScenarioData
from obliviate.tasks.classification.user import load_user_table
from obliviate.types import Split

# What the API accepts as a subject (api.SUBJECT): a subject it cannot name is undeletable.
SUBJECT = re.compile(r"^[^\x00-\x1f\x7f]{1,256}$")


class DataConfig(Protocol):
    """The fields of ExactDeployment and ApproxDeployment that say which rows they train on
    (read-only: both are frozen dataclasses)."""

    @property
    def scenario(self) -> str: ...

    @property
    def seed(self) -> int: ...

    @property
    def model(self) -> str: ...

    @property
    def epochs(self) -> int | None: ...

    @property
    def subjects(self) -> int: ...

    @property
    def data(self) -> str | None: ...

    @property
    def label(self) -> str | None: ...

    @property
    def subject_column(self) -> str | None: ...

    @property
    def data_sha256(self) -> str | None: ...


def check(cfg: DataConfig, policy: str) -> None:
    """The checks both policies' ``__post_init__`` share (one-line errors)."""
    if cfg.data is None:
        if cfg.subject_column is not None or cfg.label is not None:
            raise ObliviateError("--label and --subject-column name columns of your own "
                                 "--data CSV")
        if cfg.scenario not in SCENARIOS or SCENARIOS[cfg.scenario].kind != "classification":
            valid = [k for k, v in SCENARIOS.items() if v.kind == "classification"]
            raise ObliviateError(f"scenario {cfg.scenario!r}: the {policy} policy needs a "
                                 f"classification scenario; valid: {', '.join(valid)} (or "
                                 "--data your.csv)")
    if cfg.subjects < 1 or (cfg.epochs is not None and cfg.epochs < 1):
        raise ObliviateError(f"subjects={cfg.subjects}, epochs={cfg.epochs}: want >= 1")


def pin(path: str) -> tuple[str, str]:
    """(absolute path, sha256) of a user's data file at deploy time."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"data file {path!r} does not exist or is not a file")
    return str(p.resolve()), file_sha256(p)


def build(cfg: DataConfig) -> tuple[ScenarioData, list[str]]:
    """The scenario's splits, and the subject of each row of ``train_split()`` (in order)."""
    if cfg.data is None:
        sc = SCENARIOS[cfg.scenario]
        assert isinstance(sc, Scenario)  # check() admits classification only
        subjects_of_source, pool_row = None, None
    else:
        path = Path(cfg.data)
        if not path.is_file():
            raise DataError(f"the deployment's data file {cfg.data!r} is gone (it was pinned "
                            f"at deploy time, sha256 {cfg.data_sha256})")
        if cfg.data_sha256 is not None and file_sha256(path) != cfg.data_sha256:
            raise DataError(f"{path.name} changed since deploy (sha256 {cfg.data_sha256} "
                            "pinned): the deployment's models were trained on the old rows; "
                            "restore that file")
        table = load_user_table(path, cfg.label, None, cfg.subject_column)
        sc = Scenario(name=f"user:{path.name}", description=f"user data from {path}",
                      load=lambda: table.pool)
        subjects_of_source = table.subjects
        pool_row = table.pool.row
    if cfg.epochs is not None:
        sc = dataclasses.replace(sc, recipe=dataclasses.replace(sc.recipe, epochs=cfg.epochs))
    # The forget selector only names an evaluation split; the training rows are the same.
    d = sc.build("random:0.1", cfg.seed, model=cfg.model)
    train: Split = d.train_split()
    if subjects_of_source is None or pool_row is None:
        return d, [f"user-{int(i) % cfg.subjects}" for i in train.ids.tolist()]
    subjects = [subjects_of_source[int(pool_row[i])] for i in train.ids.tolist()]
    bad = next((s for s in subjects if not SUBJECT.match(s)), None)
    if bad is not None:
        raise DataError(f"{Path(str(cfg.data)).name}: subject {bad[:40]!r} in column "
                        f"{cfg.subject_column!r} is over 256 characters or has control "
                        "characters (the API could never name it)")
    return d, subjects
