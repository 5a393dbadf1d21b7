"""A scenario: a data pool, how to split it, which model, and how to train it."""

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
from obliviate.tasks import ClassificationTask
from obliviate.tasks.classification.forget import canonical_forget, select_forget
from obliviate.tasks.classification.models import build_model, default_model_for
from obliviate.tasks.classification.pool import Pool, row_hashes
from obliviate.tasks.classification.split import GivenSplit, positions
from obliviate.types import Batch, Split, TrainRecipe, UnlearnData

SPLIT_SEED = 0  # test/holdout split and label noise are fixed per scenario, not per run seed


@dataclass(frozen=True)
class Scenario:
    """Data + forget-set selection + training recipe (DESIGN.md, "scenarios/")."""

    name: str
    description: str
    load: Callable[[], Pool]
    recipe: TrainRecipe = field(default_factory=TrainRecipe)
    model: str | None = None  # None: chosen from the data's shape
    test_fraction: float = 0.2
    holdout_fraction: float = 0.1
    train_size: int | None = None  # cap the training set (small sets are memorised)
    label_noise: float = 0.0  # fraction of training and holdout labels set to a wrong class
    kind: str = "classification"
    given_split: GivenSplit | None = None  # the user's test/holdout rows; None: seeded split
    supports_lora = False  # LoRA adapters are for Hugging Face language models

    def with_data(self, path: str, label: str | None, split_column: str | None = None,
                  test: str | None = None) -> Scenario:
        """A scenario over the user's own ``.npz`` / CSV file (``scenarios.user_scenario``)."""
        from obliviate.scenarios import user_scenario

        return user_scenario(path, label, split_column, test)

    @property
    def split_source(self) -> str:
        """How the pool is split, in words (the run record keeps it)."""
        if self.given_split is not None:
            return self.given_split.source
        return (f"seeded (seed {SPLIT_SEED}): {self.test_fraction:.0%} test, "
                f"{self.holdout_fraction:.0%} holdout")

    def split(self, pool: Pool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Pool positions of the train, test and holdout splits, and the labels as trained
        (with the scenario's label noise)."""
        rng = np.random.default_rng(SPLIT_SEED)
        if self.given_split is None:
            order = rng.permutation(len(pool.y))
            n_test = int(round(self.test_fraction * len(order)))
            n_hold = int(round(self.holdout_fraction * len(order)))
            test_pos = np.sort(order[:n_test])
            hold_pos = np.sort(order[n_test:n_test + n_hold])
            train_pos = np.sort(order[n_test + n_hold:][:self.train_size])
        else:
            train_pos, test_pos, hold_pos = positions(pool, self.given_split)
            train_pos = train_pos[:self.train_size]
        y = pool.y.copy()
        if self.label_noise > 0:
            noisy = np.concatenate([train_pos, hold_pos])
            flip = noisy[rng.random(len(noisy)) < self.label_noise]
            y[flip] = (y[flip] + rng.integers(1, len(pool.classes), len(flip))) % len(pool.classes)
        return train_pos, test_pos, hold_pos, y

    def build(self, forget: str, seed: int, model: str | None = None) -> ScenarioData:
        """Split the pool, select the forget set, and check the splits (``check_splits``)."""
        pool = self.load()
        train_pos, test_pos, hold_pos, y = self.split(pool)
        forget = canonical_forget(forget)
        forget_pos = select_forget(forget, pool, train_pos, seed, labels=y)
        retain_pos = np.setdiff1d(train_pos, forget_pos)
        splits = {name: _split(name, pool, y, pos) for name, pos in
                  (("forget", forget_pos), ("retain", retain_pos),
                   ("test", test_pos), ("holdout", hold_pos))}
        check_splits(list(splits.values()))
        return ScenarioData(
            scenario=self.name, forget_spec=forget, seed=seed, pool=pool,
            model=model or self.model or default_model_for(pool.input_shape),
            recipe=self.recipe, split_source=self.split_source, **splits)


@dataclass(frozen=True)
class ScenarioData:
    """The built splits of one scenario run, and what determines its trained models."""

    scenario: str
    forget_spec: str
    seed: int
    pool: Pool
    model: str
    recipe: TrainRecipe
    forget: Split
    retain: Split
    test: Split
    holdout: Split
    split_source: str = "seeded"  # Scenario.split_source

    @property
    def n_classes(self) -> int:
        return len(self.pool.classes)

    @property
    def task(self) -> ClassificationTask:
        return ClassificationTask(self.n_classes)

    def unlearn_data(self) -> UnlearnData:
        return UnlearnData(forget=self.forget, retain=self.retain, recipe=self.recipe)

    def train_split(self) -> Split:
        """Forget + retain in pool order: what the original model is trained on.

        The order is part of what determines the model, and the cache key hashes sorted ids,
        so the rows must come in one canonical order whatever the forget set is.
        """
        ids = np.concatenate([self.forget.ids, self.retain.ids])
        order = torch.from_numpy(np.argsort(ids, kind="stable"))
        both = torch.cat([self.forget.inputs, self.retain.inputs])[order]
        targets = torch.cat([self.forget.targets, self.retain.targets])[order]
        return Split("train", both, targets, ids[order.numpy()])

    def model_key(self, role: str) -> str:
        """Hash of everything that determines the trained model of ``role``. The noise floor
        is the oracle's training with another seed, so it shares a key with exactly that."""
        split = self.train_split() if role == "original" else self.retain
        order = np.argsort(split.ids)
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(split.ids[order]).tobytes())
        h.update(np.ascontiguousarray(split.targets.numpy()[order]).tobytes())
        spec = {"format": 1, "scenario": self.scenario, "pool": self.pool.fingerprint(),
                "train": h.hexdigest(), "model": self.model, "recipe": asdict(self.recipe),
                "seed": role_seed(self.seed, role), "torch": torch.__version__.split("+")[0]}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]

    def sizes(self) -> dict[str, int]:
        return {s.name: len(s) for s in (self.forget, self.retain, self.test, self.holdout)}

    # ---- the Experiment protocol (obliviate.experiment) ----
    kind = "classification"
    unit_name = "samples"
    forget_metric = "forget accuracy"

    def new_model(self, role: str) -> nn.Module:
        return build_model(self.model, self.pool.input_shape, self.n_classes,
                           role_seed(self.seed, role))

    def train(self, model: nn.Module, role: str, *, progress: bool) -> dict[str, Any]:
        from obliviate.tasks.classification.training import train

        split = self.train_split() if role == "original" else self.retain
        train(model, split, self.task, self.recipe, seed=role_seed(self.seed, role),
              desc=f"train {role}", progress=progress)
        return {}

    def exporter(self, model: nn.Module) -> Callable[[Path], None] | None:
        return None

    def evaluate(self, models: dict[str, nn.Module], *, progress: bool) -> Evaluation:
        from obliviate.tasks.classification.evaluation import evaluate
        from obliviate.tasks.classification.features import classifier_arrays

        metrics, per_class = evaluate(models, self, seed=self.seed)
        return Evaluation(metrics, {"per_class_accuracy": per_class},
                          classifier_arrays(models, self, seed=self.seed))

    def record_fields(self) -> dict[str, Any]:
        return {"model": self.model, "split": self.split_source, "sizes": self.sizes(),
                "recipe": asdict(self.recipe),
                "classes": list(self.pool.classes), "data_fingerprint": self.pool.fingerprint(),
                "forget_rows": [int(r) for r in self.pool.row[self.forget.ids]]}

    def warm_up_batch(self) -> Batch:
        return next(self.retain.batches(32))

    def attack_rows(self) -> Split:
        return self.forget

    def utility_rows(self) -> Split:
        return self.retain

    def attack_groups(self, rows: Split) -> np.ndarray:
        return np.arange(len(rows))  # a sample is its own group

    def forget_score(self, model: nn.Module, rows: Split) -> float:
        from obliviate.metrics.classification import accuracy
        from obliviate.tasks.classification.probe import probe

        with torch.no_grad():
            return accuracy(probe(model, rows)).value

    def units(self) -> list[Any]:
        return [int(i) for i in self.forget.ids]

    def with_forget(self, units: Sequence[Any], label: str) -> ScenarioData:
        train = self.train_split()
        is_f = np.isin(train.ids, np.asarray(list(units)))
        return dataclasses.replace(self, forget_spec=label,
                                   forget=train.subset(np.nonzero(is_f)[0], "forget"),
                                   retain=train.subset(np.nonzero(~is_f)[0], "retain"))

    def with_seed(self, seed: int) -> ScenarioData:
        return dataclasses.replace(self, seed=seed)


def _split(name: str, pool: Pool, y: np.ndarray, pos: np.ndarray) -> Split:
    return Split(name, torch.from_numpy(pool.x[pos]), torch.from_numpy(y[pos]), pos)


def check_splits(splits: list[Split]) -> None:
    """Raise if two splits share a row id or an identical input (a leak between splits)."""
    seen_ids: dict[int, str] = {}
    seen_inputs: dict[str, str] = {}
    for s in splits:
        for i, h in zip(s.ids.tolist(), row_hashes(s.inputs.numpy()), strict=True):
            for seen, key in ((seen_ids, i), (seen_inputs, h)):
                other = seen.get(key)
                if other is not None and other != s.name:
                    raise ValueError(f"splits {other!r} and {s.name!r} share a sample "
                                     f"(pool row {i}): the splits must be disjoint")
            seen_ids[i] = s.name
            seen_inputs[h] = s.name
