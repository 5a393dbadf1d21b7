"""Focused tests for retrain, rl, neggrad+ and l1_sparse (the contract test covers the rest)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from obliviate.errors import ObliviateError
from obliviate.methods import METHODS, get_method, l1_sparse, neggrad_plus, random_label, retrain
from obliviate.methods.common import reinitialise
from obliviate.tasks import ClassificationTask
from obliviate.tasks.classification.models import build_model
from obliviate.types import Batch, Split, TrainRecipe, UnlearnData

TASK = ClassificationTask(3)


def tiny_data(n_forget: int = 6, n_retain: int = 18) -> UnlearnData:
    gen = torch.Generator().manual_seed(0)
    n = n_forget + n_retain
    x = torch.randn(n, 4, generator=gen)
    y = torch.randint(0, 3, (n,), generator=gen)
    whole = Split("train", x, y, np.arange(n))
    return UnlearnData(forget=whole.subset(np.arange(n_forget), "forget"),
                       retain=whole.subset(np.arange(n_forget, n), "retain"),
                       recipe=TrainRecipe(epochs=2, lr=0.1, batch_size=8))


def mlp(seed: int = 0) -> nn.Module:
    return build_model("mlp", (4,), 3, seed)


# -- retrain -------------------------------------------------------------------------------

def test_reinitialise_changes_every_parameter_and_matches_a_fresh_build() -> None:
    model = mlp(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # stands in for trained weights
    before = [p.detach().clone() for p in model.parameters()]
    reinitialise(model, seed=1)
    for (name, p), old in zip(model.named_parameters(), before, strict=True):
        assert not torch.equal(p, old), f"{name} kept its old value"
    # modules() order is construction order, so the seed reproduces a freshly built model
    for p, fresh in zip(model.parameters(), mlp(1).parameters(), strict=True):
        assert torch.equal(p, fresh)


def test_retrain_trains_a_reinitialised_model_on_retain_with_the_recipe(monkeypatch) -> None:
    model, data = mlp(0), tiny_data()
    trained = [p.detach().clone() for p in model.parameters()]
    seen: dict[str, Any] = {}

    def fake_train(m, split, task, recipe, *, seed, progress):
        seen.update(split=split.name, recipe=recipe, seed=seed, progress=progress,
                    params=[p.detach().clone() for p in m.parameters()])
        return m

    monkeypatch.setattr(retrain, "train", fake_train)
    retrain.unlearn(model, data, retrain.RetrainConfig(lr=0.5), task=TASK, seed=3)
    assert seen["split"] == "retain" and seen["seed"] == 3 and seen["progress"] is False
    assert seen["recipe"] == TrainRecipe(epochs=2, lr=0.5, batch_size=8)  # epochs from data
    assert all(not torch.equal(a, b) for a, b in zip(seen["params"], trained, strict=True))
    assert not model.training
    retrain.unlearn(mlp(0), data, retrain.RetrainConfig(init_seed=11), task=TASK, seed=3)
    assert seen["seed"] == 11
    for p, fresh in zip(seen["params"], mlp(11).parameters(), strict=True):
        assert torch.equal(p, fresh)  # initialised for init_seed, not the run's seed


class BareParameter(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 3)
        self.scale = nn.Parameter(torch.ones(3))  # no reset_parameters() can cover it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.lin(x) * self.scale
        return out


def test_retrain_refuses_a_parameter_no_reset_parameters_covers() -> None:
    model = BareParameter()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match=r"scale.*BareParameter"):
        retrain.unlearn(model, tiny_data(), retrain.RetrainConfig(), task=TASK, seed=0)
    for p, old in zip(model.parameters(), before, strict=True):
        assert torch.equal(p, old), "nothing may be reset before the check fails"


# -- l1_sparse -----------------------------------------------------------------------------

def test_l1_gamma_is_linear_to_zero() -> None:
    """gamma = 5e-4, total = 10: gamma_t = 5e-4 * (1 - t/10), so t = 0, 5, 9, 10 give
    5e-4, 2.5e-4, 5e-5 and 0."""
    values = [l1_sparse.l1_gamma(5e-4, t, 10) for t in (0, 5, 9, 10)]
    assert values == pytest.approx([5e-4, 2.5e-4, 5e-5, 0.0])
    with pytest.raises(ValueError, match="step"):
        l1_sparse.l1_gamma(5e-4, 11, 10)


def test_l1_norm_by_hand() -> None:
    """|1| + |-2| + |0.5| = 3.5."""
    params = [nn.Parameter(torch.tensor([1.0, -2.0])), nn.Parameter(torch.tensor([[0.5]]))]
    assert l1_sparse.l1_norm(params).item() == pytest.approx(3.5)


def test_l1_sparse_applies_the_schedule_once_per_step(monkeypatch) -> None:
    calls: list[tuple[int, int]] = []
    real = l1_sparse.l1_gamma

    def recording(gamma: float, step: int, total: int) -> float:
        calls.append((step, total))
        return real(gamma, step, total)

    monkeypatch.setattr(l1_sparse, "l1_gamma", recording)
    cfg = l1_sparse.L1SparseConfig(epochs=2, batch_size=8)
    l1_sparse.unlearn(mlp(), tiny_data(), cfg, task=TASK, seed=0)
    # 18 retain samples in batches of 8: 3 steps an epoch, 6 steps in all
    assert calls == [(t, 6) for t in range(6)]


# -- neggrad+ and rl -----------------------------------------------------------------------

def test_neggrad_plus_divergence_is_an_error_not_a_nan_model() -> None:
    cfg = neggrad_plus.NegGradPlusConfig(beta=0.0, lr=1e4, epochs=20, anchor_decay=0.0)
    with pytest.raises(ObliviateError, match="diverged"):
        neggrad_plus.unlearn(mlp(), tiny_data(), cfg, task=TASK, seed=0)


@pytest.mark.parametrize("name", ["rl", "neggrad+", "l1_sparse"])
def test_same_seed_same_weights_and_weights_change(name: str) -> None:
    spec = get_method(name, "classification")
    cfg = spec.config(epochs=2)
    a, b, start = mlp(), mlp(), mlp()
    spec.unlearn(a, tiny_data(), cfg, task=TASK, seed=5)
    spec.unlearn(b, tiny_data(), cfg, task=TASK, seed=5)
    for pa, pb, p0 in zip(a.parameters(), b.parameters(), start.parameters(), strict=True):
        assert torch.equal(pa, pb)
        assert not torch.equal(pa, p0)


class RecordingTask(ClassificationTask):
    """The classification task, recording every batch it computes a loss on."""

    seen: list[Batch]

    def __init__(self) -> None:
        super().__init__(3)
        object.__setattr__(self, "seen", [])

    def per_sample_loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        self.seen.append(batch)
        return super().per_sample_loss(model, batch)


def test_random_label_each_step_is_a_relabelled_forget_batch_plus_a_retain_batch() -> None:
    data, task = tiny_data(), RecordingTask()
    random_label.unlearn(mlp(), data, random_label.RandomLabelConfig(epochs=3, batch_size=4),
                         task=task, seed=0)
    seen = task.seen
    # 6 forget samples in batches of 4: 2 steps an epoch, each a forget loss then a retain loss
    assert len(seen) == 2 * 2 * 3
    for forget, retain in zip(seen[0::2], seen[1::2], strict=True):
        rows = (forget.inputs[:, None, :] == data.forget.inputs[None]).all(-1).int().argmax(1)
        assert bool((forget.targets != data.forget.targets[rows]).all()), "a true label slipped in"
        rows = (retain.inputs[:, None, :] == data.retain.inputs[None]).all(-1).int().argmax(1)
        assert torch.equal(retain.targets, data.retain.targets[rows])


# -- configs and registry ------------------------------------------------------------------

@pytest.mark.parametrize(("cls", "kwargs", "named"), [
    (retrain.RetrainConfig, {"epochs": 0}, "epochs=0"),
    (retrain.RetrainConfig, {"lr": -1.0}, "lr=-1.0"),
    (random_label.RandomLabelConfig, {"lr": 0.0}, "lr=0.0"),
    (random_label.RandomLabelConfig, {"momentum": -0.1}, "momentum=-0.1"),
    (neggrad_plus.NegGradPlusConfig, {"beta": 1.5}, "beta=1.5"),
    (neggrad_plus.NegGradPlusConfig, {"forget_batch_size": 0}, "forget_batch_size=0"),
    (neggrad_plus.NegGradPlusConfig, {"anchor_decay": -1.0}, "anchor_decay=-1.0"),
    (l1_sparse.L1SparseConfig, {"gamma": -1e-4}, "gamma=-0.0001"),
    (l1_sparse.L1SparseConfig, {"epochs": 0}, "epochs=0"),
])
def test_configs_reject_bad_values_by_name(cls: type, kwargs: dict, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        cls(**kwargs)


def test_registered_with_defaults_that_construct() -> None:
    for name in ("retrain", "rl", "neggrad+", "l1_sparse"):
        spec = METHODS[name]
        assert spec.name == name and "classification" in spec.tasks
        spec.config()
