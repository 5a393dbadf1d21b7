"""What the contract suite (test_contract.py) needs from each kind of model: a small trained
experiment, the settings each method runs with there, and a way to seal its evaluation data.

Sealing: the experiment's evaluation data (test and holdout rows, holdout people) is replaced
by objects that raise ``EvaluationLeak`` on any use while the seal is armed, i.e. while a
method runs. Nothing else changes, so a method that never touches evaluation data gives the
same weights sealed or not; one that reaches it by any path (its arguments, a stack frame,
a global) fails.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from obliviate.presets import preset_for
from obliviate.runner import Trained
from obliviate.types import Split


class EvaluationLeak(AssertionError):
    """A method touched evaluation data."""


_ARMED = [False]


@contextmanager
def armed() -> Iterator[None]:
    _ARMED[0] = True
    try:
        yield
    finally:
        _ARMED[0] = False


class SealedTensor(torch.Tensor):
    """A tensor that raises on any torch operation while the seal is armed."""

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None,
                           ) -> Any:
        if _ARMED[0]:
            raise EvaluationLeak(f"evaluation data was used by {getattr(func, '__name__', func)}")
        return super().__torch_function__(func, types, args, kwargs or {})


def sealed_tensor(t: torch.Tensor) -> torch.Tensor:
    return torch.Tensor._make_subclass(SealedTensor, t.detach().clone())


class SealedTuple(tuple):  # type: ignore[type-arg]
    """A tuple of evaluation records (holdout people) that raises when read while armed."""

    def _check(self) -> None:
        if _ARMED[0]:
            raise EvaluationLeak("evaluation data (holdout people) was read")

    def __iter__(self) -> Any:
        self._check()
        return super().__iter__()

    def __getitem__(self, i: Any) -> Any:
        self._check()
        return super().__getitem__(i)

    def __len__(self) -> int:
        self._check()
        return super().__len__()


class SealedArray(np.ndarray):
    """A numpy array (evaluation ids) that raises on use while the seal is armed."""

    def _check(self) -> None:
        if _ARMED[0]:
            raise EvaluationLeak("evaluation data (held-out ids) was used")

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        self._check()
        plain = [i.view(np.ndarray) if isinstance(i, SealedArray) else i for i in inputs]
        return getattr(ufunc, method)(*plain, **kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        self._check()
        return super().__array_function__(func, types, args, kwargs)

    def __getitem__(self, key: Any) -> Any:
        self._check()
        return super().__getitem__(key)

    def __len__(self) -> int:
        self._check()
        return super().__len__()

    def __iter__(self) -> Any:
        self._check()
        return super().__iter__()


def sealed_array(a: np.ndarray) -> np.ndarray:
    return np.array(a).view(SealedArray)


class SealedProxy:
    """An object holding evaluation data among the rest (a graph's labels of test nodes, all
    interactions): any attribute read while the seal is armed raises."""

    def __init__(self, obj: Any, what: str) -> None:
        object.__setattr__(self, "_sealed", (obj, what))

    def __getattr__(self, name: str) -> Any:
        obj, what = object.__getattribute__(self, "_sealed")
        if _ARMED[0]:
            raise EvaluationLeak(f"evaluation data ({what}) was read: .{name}")
        return getattr(obj, name)


def _rebuilt(d: Any, cached: tuple[str, ...], **sealed: Any) -> Any:
    """``d`` with ``sealed`` fields replaced, keeping the ``cached`` properties it has built
    from training data (computed here, before the seal is armed)."""
    for name in cached:
        getattr(d, name)
    data = dataclasses.replace(d, **sealed)
    for name in cached:
        data.__dict__[name] = d.__dict__[name]
    return data


def _seal_split(s: Split) -> Split:
    return dataclasses.replace(s, inputs=sealed_tensor(s.inputs),
                               targets=sealed_tensor(s.targets))


def seal_classifier(t: Trained) -> Trained:
    d = t.data
    data = dataclasses.replace(d, test=_seal_split(d.test),  # type: ignore[type-var]
                               holdout=_seal_split(d.holdout))
    return dataclasses.replace(t, data=data)


def seal_people(t: Trained) -> Trained:
    d: Any = t.data
    d.tokenizer  # noqa: B018  (built from every string first: a vocabulary is not training)
    corpus = dataclasses.replace(d.corpus, holdout=SealedTuple(d.corpus.holdout))
    data = dataclasses.replace(d, corpus=corpus)
    for cached in ("tokenizer", "task", "forget", "retain", "items"):
        if cached in d.__dict__:  # keep what was already built (no second vocabulary)
            data.__dict__[cached] = d.__dict__[cached]
    return dataclasses.replace(t, data=data)


def seal_graph(t: Trained) -> Trained:
    d: Any = t.data
    data = _rebuilt(d, ("task", "forget", "retain"), test_nodes=sealed_array(d.test_nodes),
                    graph=SealedProxy(d.graph, "the graph's node labels"))
    return dataclasses.replace(t, data=data)


def seal_recommendation(t: Trained) -> Trained:
    d: Any = t.data
    data = _rebuilt(d, ("retain_ids", "forget", "retain", "known", "task"),
                    test_ids=sealed_array(d.test_ids),
                    data=SealedProxy(d.data, "every interaction, held-out ones too"))
    return dataclasses.replace(t, data=data)


@dataclass(frozen=True)
class Kind:
    task: str  # the Task name methods declare
    fixture: str  # the conftest fixture holding its trained experiment
    settings: Callable[[str], dict[str, object]]
    seal: Callable[[Trained], Trained]
    # Largest drop of the utility score (% of retained rows scored by ``forget_score``) a
    # method may cost, in points, with the reason in ``why``.
    retain_tolerance: float
    why: str
    # How far the original's forget score must start from the oracle's, and how many points
    # of that distance a method must close (test_forget_score_moves_toward_the_oracle).
    min_start: float = 50.0
    min_closed: float = 10.0


# Settings that forget on the tiny people LM; the papers' defaults target 7B models.
LM_SETTINGS: dict[str, dict[str, object]] = {
    "grad_diff": {"lr": 5e-4, "epochs": 10, "batch_size": 8, "retain_weight": 10.0},
    "npo": {"lr": 1e-3, "epochs": 10, "batch_size": 8, "beta": 1.0},
    "simnpo": {"lr": 1e-3, "epochs": 10, "batch_size": 8, "beta": 1.0, "forget_weight": 1.0},
    "tnpo": {"lr": 1e-3, "epochs": 10, "batch_size": 8, "beta": 1.0, "retain_weight": 1.0},
    "idkpo": {"lr": 1e-3, "epochs": 20, "batch_size": 8, "beta": 0.05},
    "rmu": {"lr": 1e-3, "batch_size": 8, "steering_coeff": 20.0, "alpha": 10.0,
            "update_modules": ("transformer.h.0", "transformer.h.1")},
    "ihl": {"lr": 1e-3, "epochs": 10, "batch_size": 8},
    # Forgetting 2 of 6 people, no weight is 3x more important to D_f than to D (alpha 3
    # dampens none); alpha 2 dampens ~20k weights: forget exact match 100 -> 13, retained 98 -> 84.
    "ssd": {"alpha": 2.0},
    "flat": {"lr": 1e-3, "epochs": 10, "batch_size": 8, "retain_weight": 1.0},
    # Measured on this fixture (forget score / retained score; original 100 / 98, oracle
    # 0 / 95): ga 8 epochs 96 / 98, 11 epochs 84 / 98, 15 epochs 13 / 28 (the cliff).
    "ga": {"lr": 1e-3, "epochs": 11, "batch_size": 8},
    "ft": {"lr": 0.1, "batch_size": 32, "weight_decay": 0.0075},
    # beta 0.9 / 0.7 / 0.5: 100 / 89 / 49 forgotten-people score, retained 98 / 98 / 91.
    "neggrad+": {"lr": 0.05, "beta": 0.5, "batch_size": 32},
    # gamma 7e-4 / 3e-4: retained 52 / 98, forgotten 77 at 3e-4.
    "l1_sparse": {"lr": 0.1, "gamma": 3e-4, "batch_size": 32},
    # A cliff: lr 0.005 / 0.0075 / 0.01 / 0.015 -> forgotten 100 / 88 / 0 / 0, retained 99 /
    # 97 / 0 / 0.
    "scrub": {"lr": 0.0075, "msteps": 3, "sgda_epochs": 5, "alpha": 2.0, "gamma": 1.0,
              "forget_batch_size": 8},
    "salun": {"lr": 0.01, "epochs": 5, "batch_size": 32},
    "rl": {"lr": 0.01, "batch_size": 32}, "retrain": {},
    "bad_teacher": {"lr": 3e-3, "epochs": 5, "batch_size": 8, "retain_fraction": 1.0},
}

# Measured on the tiny fixtures (conftest): forget score / retained score after each setting.
# Regression (outliers-tiny; original 91 / 99, oracle -535 / 99): ft at lr 0.01 moves 5
# points (lr 0.05: 74 / 99.6); l1_sparse lr 0.05 gamma 0.01: 1.6 / 99.4; SSD at alpha 10 and 3
# dampens nothing, alpha 2: -555 / 62.
REGRESSION_SETTINGS: dict[str, dict[str, object]] = {
    "ft": {"lr": 0.05}, "l1_sparse": {"lr": 0.05, "gamma": 0.01}, "ssd": {"alpha": 2.0}}
# Graph (sbm-tiny class:0; original 100 / 95, oracle 0 / 100): the classifier defaults take
# too few full-graph steps here (ft, l1_sparse, scrub: 95-100 / 97); these forget.
GRAPH_SETTINGS: dict[str, dict[str, object]] = {
    "ft": {"lr": 0.5, "epochs": 30, "weight_decay": 0.005}, "ga": {"lr": 0.01, "epochs": 10},
    "neggrad+": {"lr": 0.1, "beta": 0.7, "epochs": 10},
    "l1_sparse": {"lr": 0.5, "gamma": 0.01, "epochs": 20},
    "bad_teacher": {"lr": 0.01, "epochs": 5}, "scrub": {"lr": 0.05, "msteps": 3, "sgda_epochs": 5},
    "ssd": {"alpha": 2.5}, "salun": {"lr": 0.01, "epochs": 5}}
# Recommendation (recsys-tiny item:1,2): as test_recommendation_pipeline measured.
REC_SETTINGS: dict[str, dict[str, object]] = {"bad_teacher": {"lr": 0.05}, "ssd": {"alpha": 2.0}}

KINDS: dict[str, Kind] = {
    "classification": Kind(
        "classification", "digits_class3", lambda m: preset_for("digits", m, "class:3"),
        seal_classifier, retain_tolerance=10.0,
        why="10 points of retain accuracy is the largest loss at which the unlearned model "
            "still predicts 9 of 10 retained samples as the original did; more is a collapse "
            "no user would accept in place of retraining (the oracle keeps 100%)"),
    "causal_lm": Kind(
        "causal_lm", "tiny_people", lambda m: LM_SETTINGS.get(m, {}), seal_people,
        retain_tolerance=25.0,
        why="4 retained people and 4 general facts on a 64-wide, 2-block GPT-2 share every "
            "weight with the 2 forgotten people; the bar asks that at least 3 of 4 retained "
            "answers survive"),
    "regression": Kind(
        "regression", "tiny_regression", lambda m: REGRESSION_SETTINGS.get(m, {}),
        seal_classifier, retain_tolerance=10.0,
        why="the score is 100 x (1 - MSE / target variance) on retained rows: 10 points is a "
            "tenth of the targets' variance, about what a linear fit leaves unexplained here"),
    "graph": Kind(
        "graph", "tiny_graph", lambda m: GRAPH_SETTINGS.get(m, {}), seal_graph,
        retain_tolerance=10.0,
        why="as for a classifier: 9 of 10 retained nodes still labelled as before"),
    "recommendation": Kind(
        "recommendation", "tiny_recommendation", lambda m: REC_SETTINGS.get(m, {}),
        seal_recommendation, retain_tolerance=10.0, min_start=20.0, min_closed=5.0,
        why="10 points of retained interactions falling out of their user's top 20"),
    # min_closed 5: the 14 forgotten interactions score in steps of 7.1 points, so one of
    # them leaving its user's top 20 closes the distance by one step.
}
