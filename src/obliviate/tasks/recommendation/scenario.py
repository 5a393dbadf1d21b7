"""Recommendation scenarios: implicit feedback, BPR-MF, and forgetting users, items or rows.

``RecScenario`` is what the registry holds (the generator or a user's CSV, the recipe, the
model size); ``RecData`` is one built scenario, the ``Experiment`` the runner talks to. The
training rows are the (user, item) interactions outside the test split; the held-out test
interactions of retained users are evaluation data only (never in ``UnlearnData``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from obliviate.errors import ObliviateError
from obliviate.experiment import Evaluation, role_seed
from obliviate.tasks.recommendation.forget import (
    UNIT_NAMES,
    canonical_forget,
    covered,
    select_forget,
)
from obliviate.tasks.recommendation.interactions import (
    SPLIT_SEED,
    Generator,
    Interactions,
    split_train_test,
)
from obliviate.tasks.recommendation.models import MODEL_NAME, ModelSize, build_bprmf
from obliviate.tasks.recommendation.probe import Known
from obliviate.tasks.recommendation.task import RankingTask
from obliviate.tasks.recommendation.training import default_recipe
from obliviate.types import Batch, Split, TrainRecipe, UnlearnData

HIT_K = 20  # the attacks' forget score: % of forget interactions in the user's top 20


@dataclass(frozen=True)
class RecScenario:
    name: str
    description: str
    generator: Generator = field(default_factory=Generator)
    data_path: str | None = None  # a user's interactions CSV replaces the generator
    recipe: TrainRecipe = field(default_factory=default_recipe)
    size: ModelSize = field(default_factory=ModelSize)
    test_fraction: float = 0.2
    model: str | None = MODEL_NAME
    kind: str = "recommendation"
    supports_lora = False

    def with_data(self, path: str, label: str | None, split_column: str | None = None,
                  test: str | None = None) -> RecScenario:
        """The user's interactions CSV (``interactions_csv``) in place of the generator."""
        from obliviate.tasks.recommendation.interactions_csv import read_interactions_csv

        if label is not None:
            raise ObliviateError("--label is for classifier CSVs; an interactions CSV has the "
                                 "columns user,item[,timestamp]")
        if split_column is not None or test is not None:
            raise ObliviateError("--split-column and --test are for classifier data; an "
                                 "interactions CSV is split per user (the latest interactions "
                                 "with a timestamp column, a seeded share without)")
        read_interactions_csv(path)  # fail now, with the file's own error, not mid-run
        return dataclasses.replace(self, name=f"interactions:{path}", data_path=path)

    def interactions(self) -> Interactions:
        if self.data_path:
            from obliviate.tasks.recommendation.interactions_csv import read_interactions_csv

            return read_interactions_csv(self.data_path)
        return self.generator.generate()

    @property
    def split_source(self) -> str:
        if self.data_path:
            return (f"per user, {self.test_fraction:.0%} of the interactions held out: the "
                    "latest with a timestamp column, else seeded (seed 0)")
        return f"seeded (seed {SPLIT_SEED}): {self.test_fraction:.0%} of each user's interactions"

    def build(self, forget: str, seed: int, model: str | None = None) -> RecData:
        if model is not None and model != MODEL_NAME:
            raise ObliviateError(f"unknown recommendation model {model!r}; valid models: "
                                 f"{MODEL_NAME}")
        data = self.interactions()
        train_ids, test_ids = split_train_test(data, self.test_fraction)
        forget = canonical_forget(forget)
        chosen = select_forget(forget, data, train_ids, seed)
        return RecData(scenario=self.name, forget_spec=forget, seed=seed, data=data,
                       train_ids=train_ids, test_ids=test_ids, forget_kind=chosen.kind,
                       forget_units=chosen.units, forget_ids=chosen.ids, recipe=self.recipe,
                       size=self.size, split_source=self.split_source)


@dataclass(frozen=True, eq=False)  # arrays: compared by identity
class RecData:
    scenario: str
    forget_spec: str
    seed: int
    data: Interactions
    train_ids: np.ndarray
    test_ids: np.ndarray
    forget_kind: str  # "user", "item" or "random" (forget.SELECTORS)
    forget_units: tuple[str | int, ...]
    forget_ids: np.ndarray
    recipe: TrainRecipe
    size: ModelSize
    split_source: str

    # ---- the rows ----
    def _split(self, name: str, ids: np.ndarray) -> Split:
        ids = np.asarray(ids, dtype=np.int64)
        return Split(name, torch.from_numpy(self.data.user[ids]),
                     torch.from_numpy(self.data.item[ids]), ids)

    @cached_property
    def retain_ids(self) -> np.ndarray:
        return np.setdiff1d(self.train_ids, self.forget_ids)

    @cached_property
    def forget(self) -> Split:
        return self._split("forget", self.forget_ids)

    @cached_property
    def retain(self) -> Split:
        return self._split("retain", self.retain_ids)

    def train_split(self) -> Split:
        """Every training interaction in id order, whatever the forget set (the order is part
        of what determines the original)."""
        return self._split("train", self.train_ids)

    @cached_property
    def test(self) -> Split:
        """The held-out interactions the utility metrics score: those of retained users with
        retained items (a forgotten user or item is gone from the service: its held-out rows
        would reward remembering it)."""
        ids = self.test_ids
        column = {"user": self.data.user, "item": self.data.item}.get(self.forget_kind)
        if column is not None:
            gone = np.unique(column[self.forget_ids])
            ids = ids[~np.isin(column[ids], gone)]
        return self._split("test", ids)

    @cached_property
    def known(self) -> Known:
        """Each user's retained training items: filtered out of every ranked list."""
        r = self.retain_ids
        return Known.of(self.data.user[r], self.data.item[r], self.data.n_users,
                        self.data.n_items)

    @cached_property
    def task(self) -> RankingTask:
        return RankingTask(self.data.n_items)

    def unlearn_data(self) -> UnlearnData:
        return UnlearnData(forget=self.forget, retain=self.retain, recipe=self.recipe)

    def sizes(self) -> dict[str, int]:
        return {"forget": len(self.forget), "retain": len(self.retain), "test": len(self.test),
                "users": self.data.n_users, "items": self.data.n_items,
                "forget_users": int(len(np.unique(self.data.user[self.forget_ids]))),
                "test_users": int(len(np.unique(self.test.inputs.numpy())))}

    # ---- the Experiment protocol (obliviate.experiment) ----
    kind = "recommendation"
    forget_metric = f"forget hit rate @{HIT_K}"

    @property
    def unit_name(self) -> str:
        return UNIT_NAMES[self.forget_kind]

    def model_key(self, role: str) -> str:
        """Hash of what determines the model of ``role``; the noise floor is the oracle's
        training under another seed, so it shares a key with exactly that."""
        ids = self.train_ids if role == "original" else self.retain_ids
        spec = {"format": 1, "scenario": self.scenario, "data": self.data.fingerprint(),
                "train": hashlib.sha256(np.ascontiguousarray(np.sort(ids)).tobytes()).hexdigest(),
                "model": MODEL_NAME, "size": asdict(self.size), "recipe": asdict(self.recipe),
                "seed": role_seed(self.seed, role), "torch": torch.__version__.split("+")[0]}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]

    def new_model(self, role: str) -> nn.Module:
        return build_bprmf(self.data.n_users, self.data.n_items, self.data.features, self.size,
                           role_seed(self.seed, role))

    def train(self, model: nn.Module, role: str, *, progress: bool) -> dict[str, Any]:
        from obliviate.tasks.recommendation.training import train  # retrain's loop too

        split = self.train_split() if role == "original" else self.retain
        train(model, split, self.task, self.recipe, seed=role_seed(self.seed, role),
              desc=f"train {role}", progress=progress)
        return {}

    def exporter(self, model: nn.Module) -> Callable[[Path], None] | None:
        return None

    def evaluate(self, models: dict[str, nn.Module], *, progress: bool) -> Evaluation:
        from obliviate.tasks.recommendation.evaluation import evaluate
        from obliviate.tasks.recommendation.features import recommendation_arrays

        metrics, fields = evaluate(models, self, seed=self.seed)
        return Evaluation(metrics, {"recommendation": fields},
                          recommendation_arrays(models, self, seed=self.seed))

    def record_fields(self) -> dict[str, Any]:
        d = self.data
        fields: dict[str, Any] = {
            "model": f"{MODEL_NAME} dim={self.size.dim} features={d.features.shape[1]}",
            "split": self.split_source, "sizes": self.sizes(), "recipe": asdict(self.recipe),
            "data_fingerprint": d.fingerprint(), "forget_kind": self.forget_kind,
            "forget_rows": [int(r) for r in d.row[self.forget_ids]]}
        if self.forget_kind != "random":
            fields["forget_units"] = [str(u) for u in self.forget_units]
        return fields

    def warm_up_batch(self) -> Batch:
        return next(self.retain.batches(32))

    def attack_rows(self) -> Split:
        return self.forget

    def utility_rows(self) -> Split:
        return self.retain

    def attack_groups(self, rows: Split) -> np.ndarray:
        # An interaction is its own group: relearning some of a forgotten user's (or item's)
        # interactions and testing the others is the targeted relearning attack.
        return np.arange(len(rows))

    def forget_score(self, model: nn.Module, rows: Split) -> float:
        """% of ``rows`` still in their user's top ``HIT_K`` (known items filtered)."""
        from obliviate.tasks.recommendation.probe import probe_pairs

        got = probe_pairs(model, {"rows": (rows.inputs.numpy(), rows.targets.numpy())},
                          self.known)["rows"]
        return float(100.0 * (got.rank <= HIT_K).mean())

    def units(self) -> list[Any]:
        return list(self.forget_units)

    def with_forget(self, units: Sequence[Any], label: str) -> RecData:
        ids = covered(self.forget_kind, list(units), self.data, self.train_ids)
        return dataclasses.replace(self, forget_spec=label, forget_units=tuple(units),
                                   forget_ids=ids)

    def with_seed(self, seed: int) -> RecData:
        return dataclasses.replace(self, seed=seed)
