"""A regression scenario: a pool of (features, target) rows, its split, planted outliers, the
MLP and its recipe; built for a forget set and seed it is an ``Experiment``.

Targets are standardised by the mean and standard deviation of the training rows' targets
(forget and retain together, as trained, outliers included): one fixed change of units per
scenario, the same for every model and every forget set, as the features' standardisation
is. The oracle therefore sees the same units as the original; undoing them puts every
prediction and error back in the target's own units (``probe.predict``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from obliviate.experiment import Evaluation, role_seed
from obliviate.tasks.classification.scenario import check_splits
from obliviate.tasks.classification.split import GivenSplit
from obliviate.tasks.regression.data import RegressionPool, plant_outliers
from obliviate.tasks.regression.forget import canonical_forget, select_forget
from obliviate.tasks.regression.models import build_regressor
from obliviate.tasks.regression.task import RegressionTask
from obliviate.types import Batch, Split, TrainRecipe, UnlearnData

SPLIT_SEED = 0  # the test/holdout split and the planted outliers are fixed per scenario


@dataclass(frozen=True)
class RegressionScenario:
    name: str
    description: str
    load: Callable[[], RegressionPool]
    recipe: TrainRecipe = field(default_factory=TrainRecipe)
    model: str = "mlp"
    test_fraction: float = 0.2
    holdout_fraction: float = 0.1
    outlier_share: float = 0.0  # of the training rows, moved far off the function
    outlier_scale: tuple[float, float] = (3.0, 5.0)  # in training-target standard deviations
    given_split: GivenSplit | None = None  # the user's test/holdout rows; None: seeded split
    kind: str = "regression"
    supports_lora = False

    def with_data(self, path: str, label: str | None, split_column: str | None = None,
                  test: str | None = None) -> RegressionScenario:
        """This scenario's model and recipe over the user's table (``--task regression``)."""
        from obliviate.tasks.regression.user_scenario import user_regression_scenario

        return user_regression_scenario(self, path, label, split_column, test)

    @property
    def split_source(self) -> str:
        if self.given_split is not None:
            return self.given_split.source
        return (f"seeded (seed {SPLIT_SEED}): {self.test_fraction:.0%} test, "
                f"{self.holdout_fraction:.0%} holdout")

    def split(self, pool: RegressionPool,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Pool positions of the train, test and holdout splits, and the targets as trained
        (with the planted outliers)."""
        train, test, holdout, y, _ = self._split(pool)
        return train, test, holdout, y

    def _split(self, pool: RegressionPool,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng(SPLIT_SEED)
        if self.given_split is None:
            order = rng.permutation(len(pool.y))
            n_test = int(round(self.test_fraction * len(order)))
            n_hold = int(round(self.holdout_fraction * len(order)))
            test_pos, hold_pos = np.sort(order[:n_test]), np.sort(order[n_test:n_test + n_hold])
            train_pos = np.sort(order[n_test + n_hold:])
        else:
            from obliviate.tasks.regression.user_scenario import given_positions

            train_pos, test_pos, hold_pos = given_positions(pool, self.given_split)
        # Outliers only in training rows: the test error measures the function itself.
        y, planted = plant_outliers(pool.y, train_pos, self.outlier_share, self.outlier_scale,
                                    rng)
        return train_pos, test_pos, hold_pos, y, planted

    def build(self, forget: str, seed: int, model: str | None = None) -> RegressionData:
        pool = self.load()
        train_pos, test_pos, hold_pos, y, planted = self._split(pool)
        forget = canonical_forget(forget)
        forget_pos = select_forget(forget, pool, train_pos, y, seed, planted)
        retain_pos = np.setdiff1d(train_pos, forget_pos)
        mean, std = float(y[train_pos].mean()), float(y[train_pos].std())
        z = (y - mean) / std

        def split(name: str, pos: np.ndarray) -> Split:
            return Split(name, torch.from_numpy(pool.x[pos]),
                         torch.from_numpy(z[pos].astype(np.float32)), pos)

        splits = {n: split(n, p) for n, p in (("forget", forget_pos), ("retain", retain_pos),
                                              ("test", test_pos), ("holdout", hold_pos))}
        check_splits(list(splits.values()))
        return RegressionData(scenario=self.name, forget_spec=forget, seed=seed, pool=pool,
                              model=model or self.model, recipe=self.recipe, y_mean=mean,
                              y_std=std, planted=tuple(int(p) for p in planted),
                              split_source=self.split_source, **splits)


@dataclass(frozen=True)
class RegressionData:
    """The built splits of one regression run (targets standardised) and what determines its
    trained models."""

    scenario: str
    forget_spec: str
    seed: int
    pool: RegressionPool
    model: str
    recipe: TrainRecipe
    forget: Split
    retain: Split
    test: Split
    holdout: Split
    y_mean: float
    y_std: float
    planted: tuple[int, ...] = ()
    split_source: str = "seeded"

    kind = "regression"
    unit_name = "samples"
    forget_metric = "forget fit: 100 x (1 - MSE / training-target variance)"

    @property
    def task(self) -> RegressionTask:
        return RegressionTask()  # targets are standardised: mean 0, std 1

    def unlearn_data(self) -> UnlearnData:
        return UnlearnData(forget=self.forget, retain=self.retain, recipe=self.recipe)

    def train_split(self) -> Split:
        """Forget + retain in pool order (one canonical order whatever the forget set)."""
        ids = np.concatenate([self.forget.ids, self.retain.ids])
        order = torch.from_numpy(np.argsort(ids, kind="stable"))
        return Split("train", torch.cat([self.forget.inputs, self.retain.inputs])[order],
                     torch.cat([self.forget.targets, self.retain.targets])[order],
                     ids[order.numpy()])

    def model_key(self, role: str) -> str:
        split = self.train_split() if role == "original" else self.retain
        order = np.argsort(split.ids)
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(split.ids[order]).tobytes())
        h.update(np.ascontiguousarray(split.targets.numpy()[order]).tobytes())
        spec = {"format": 1, "kind": self.kind, "scenario": self.scenario,
                "pool": self.pool.fingerprint(), "train": h.hexdigest(), "model": self.model,
                "recipe": asdict(self.recipe), "seed": role_seed(self.seed, role),
                "torch": torch.__version__.split("+")[0]}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]

    def sizes(self) -> dict[str, int]:
        return {s.name: len(s) for s in (self.forget, self.retain, self.test, self.holdout)}

    def new_model(self, role: str) -> nn.Module:
        return build_regressor(self.model, self.pool.input_dim, role_seed(self.seed, role))

    def train(self, model: nn.Module, role: str, *, progress: bool) -> dict[str, Any]:
        from obliviate.tasks.regression.training import train

        split = self.train_split() if role == "original" else self.retain
        train(model, split, self.task, self.recipe, seed=role_seed(self.seed, role),
              desc=f"train {role}", progress=progress)
        return {}

    def exporter(self, model: nn.Module) -> Callable[[Path], None] | None:
        return None

    def evaluate(self, models: dict[str, nn.Module], *, progress: bool) -> Evaluation:
        from obliviate.tasks.regression.evaluation import evaluate
        from obliviate.tasks.regression.features import regression_arrays

        return Evaluation(evaluate(models, self, seed=self.seed), {},
                          regression_arrays(models, self, seed=self.seed))

    def record_fields(self) -> dict[str, Any]:
        planted = set(self.planted)
        return {"model": self.model, "split": self.split_source, "sizes": self.sizes(),
                "recipe": asdict(self.recipe), "data_fingerprint": self.pool.fingerprint(),
                "target": {"name": self.pool.target, "mean": self.y_mean, "std": self.y_std},
                "outliers": {"planted": len(planted),
                             "in_forget": sum(int(i) in planted for i in self.forget.ids)},
                "forget_rows": [int(r) for r in self.pool.row[self.forget.ids]]}

    def warm_up_batch(self) -> Batch:
        return next(self.retain.batches(32))

    def attack_rows(self) -> Split:
        return self.forget

    def utility_rows(self) -> Split:
        return self.retain

    def attack_groups(self, rows: Split) -> np.ndarray:
        return np.arange(len(rows))

    def forget_score(self, model: nn.Module, rows: Split) -> float:
        """100 x (1 - MSE / variance of the training targets) on ``rows``: how much of the
        targets' spread the model still explains there, in % (the targets are standardised,
        so that variance is 1). One scale for every forget set, unlike the rows' own R²,
        whose variance is tiny for a narrow range:LO:HI."""
        with torch.no_grad():
            err = self.task.per_sample_loss(model, next(rows.batches(len(rows))).to(
                next(model.parameters()).device))
        return 100.0 * (1.0 - float(err.mean()))

    def units(self) -> list[Any]:
        return [int(i) for i in self.forget.ids]

    def with_forget(self, units: Sequence[Any], label: str) -> RegressionData:
        train = self.train_split()
        is_f = np.isin(train.ids, np.asarray(list(units)))
        return dataclasses.replace(self, forget_spec=label,
                                   forget=train.subset(np.nonzero(is_f)[0], "forget"),
                                   retain=train.subset(np.nonzero(~is_f)[0], "retain"))

    def with_seed(self, seed: int) -> RegressionData:
        return dataclasses.replace(self, seed=seed)
