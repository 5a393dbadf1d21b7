"""The pipeline-facing protocol: a built scenario of any kind of model (DESIGN.md, "Two
protocols"). The runner, the sequential runner, the attacks and the shadow models talk only
to this; ``Task`` is the method-facing half.

A kind (classification, causal LM, regression, ...) is one package under ``tasks/`` whose
built scenario implements ``Experiment``. Adding a kind adds a package and registry lines
(``scenarios.SCENARIOS``, ``KINDS`` below) and changes no line of the runner.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from obliviate.types import Batch, Split, Task, UnlearnData

# The models a built scenario trains (and the cache keeps): the untouched original, the oracle
# retrained without the forget set, and the noise floor, an exact retrain that differs from
# the oracle only in its initial weights and batch order.
TRAINED_ROLES = ("original", "oracle", "independent")
# The noise floor's seed is the run's seed plus this: far from every seed a benchmark uses.
INDEPENDENT_SEED_OFFSET = 1000


def role_seed(seed: int, role: str) -> int:
    """The initialisation and batch-order seed of a trained role."""
    if role not in TRAINED_ROLES:
        raise ValueError(f"unknown trained role {role!r}; roles: {', '.join(TRAINED_ROLES)}")
    return seed + INDEPENDENT_SEED_OFFSET if role == "independent" else seed


@dataclass(frozen=True)
class Evaluation:
    """What a kind's evaluation suite returns for a set of models (keyed by role).

    ``metrics[name][role]`` are the values (with ``unit``, ``higher_is_better`` and
    ``per_sample``, as the registry defines them); ``fields`` are the kind's own record
    fields (``{"lm": {...}}``, ``{"per_class_accuracy": ...}``); ``arrays`` is the feature
    sidecar the report and the dashboard read.
    """

    metrics: dict[str, Any]
    fields: dict[str, Any]
    arrays: dict[str, np.ndarray]


class Experiment(Protocol):
    """One scenario, built for one forget set and seed: data, models, evaluation."""

    @property
    def scenario(self) -> str:
        """The scenario's name."""
        ...

    @property
    def forget_spec(self) -> str:
        """The forget-set selector as given (``class:3``, ``people:0.1``, ...)."""
        ...

    @property
    def seed(self) -> int:
        ...

    @property
    def kind(self) -> str:
        """The registry name of this kind of model ("classification", "lm", ...): what
        attacks and views are declared for, and the record's ``scenario.kind``."""
        ...

    @property
    def task(self) -> Task:
        """The method-facing adapter; its ``name`` is what methods declare."""
        ...

    @property
    def unit_name(self) -> str:
        """What one forget unit is called in messages ("samples", "people", ...)."""
        ...

    @property
    def forget_metric(self) -> str:
        """What ``forget_score`` measures, for attack tables ("forget accuracy", ...)."""
        ...

    def unlearn_data(self) -> UnlearnData:
        """Everything a method may see: forget, retain and the training recipe."""
        ...

    def model_key(self, role: str) -> str:
        """Hash of everything that determines the trained model of ``role``."""
        ...

    def new_model(self, role: str) -> nn.Module:
        """The untrained starting point of ``role`` (initialised from ``role_seed``)."""
        ...

    def train(self, model: nn.Module, role: str, *, progress: bool) -> dict[str, Any]:
        """Train ``model`` in place as ``role`` (the original on every training row, the
        oracle and the noise floor on the retained rows); returns what to record."""
        ...

    def exporter(self, model: nn.Module) -> Callable[[Path], None] | None:
        """Writes extra files into a cache entry (e.g. a ``save_pretrained`` copy)."""
        ...

    def evaluate(self, models: dict[str, nn.Module], *, progress: bool) -> Evaluation:
        """The kind's evaluation suite for every role in ``models``."""
        ...

    def record_fields(self) -> dict[str, Any]:
        """The record's ``scenario`` fields beyond name, forget set, seed and kind."""
        ...

    def warm_up_batch(self) -> Batch:
        """A small batch of retained rows, for the untimed warm-up steps."""
        ...

    # -- what attacks need --
    def attack_rows(self) -> Split:
        """The forget rows an attack scores (question rows for a language model)."""
        ...

    def attack_groups(self, rows: Split) -> np.ndarray:
        """A group id per row: rows of one group are shown or held out together."""
        ...

    def utility_rows(self) -> Split:
        """Retained rows scored the same way, for utility checks (question rows for an LM)."""
        ...

    def forget_score(self, model: nn.Module, rows: Split) -> float:
        """How much of ``rows`` the model still knows, in % (lower = more forgotten)."""
        ...

    # -- sequences of deletion requests, and shadow models --
    def units(self) -> list[Any]:
        """The forget set as units a deletion request can name (sample ids, people)."""
        ...

    def with_forget(self, units: Sequence[Any], label: str) -> Experiment:
        """This experiment with ``units`` as its forget set, everything else retained."""
        ...

    def with_seed(self, seed: int) -> Experiment:
        """The same data and forget set under another seed (weights and batch order)."""
        ...


def environment() -> dict[str, Any]:
    """Where a time is measured: a ratio of two times means something only when both come
    from the same machine, thread count and library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cpus": os.cpu_count(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "device": "cuda" if torch.cuda.is_available() else "cpu"}


def environment_differs(measured: dict[str, Any] | None, now: dict[str, Any]) -> str | None:
    """Why a time measured in ``measured`` cannot be compared with one measured ``now``, or
    None when it can."""
    if not measured:
        return "retraining was timed before obliviate recorded where (a cache entry without " \
               "its environment)"
    diff = [f"{k} {measured.get(k)!r} vs {now.get(k)!r}" for k in now if measured.get(k) !=
            now.get(k)]
    return None if not diff else "retraining was timed elsewhere: " + "; ".join(diff)


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
