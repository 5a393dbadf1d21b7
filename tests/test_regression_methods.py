"""Regression methods: Blindspot's and Gaussian fine-tuning's losses on tiny tensors worked by
hand, and the contract every method registered for regression meets on a tiny scenario
(defaults construct, same seed -> same weights, weights change, retraining rebuilds the
oracle, the blindspot model does not start from the oracle's weights)."""

from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch

from obliviate.config import build_config
from obliviate.errors import ObliviateError
from obliviate.methods import METHODS, get_method
from obliviate.methods.blindspot import (
    BLINDSPOT_SEED_OFFSET,
    BlindspotConfig,
    activation_modules,
    attention,
    attention_diff,
    blindspot_loss,
    train_blindspot,
)
from obliviate.methods.gaussian_ft import gaussian_targets
from obliviate.methods.retrain import RetrainConfig
from obliviate.tasks.regression.scenario import RegressionData
from test_regression import TINY

REGRESSION = sorted(n for n, s in METHODS.items() if "regression" in s.tasks)


def test_the_registered_set() -> None:
    """Every generic method whose objective is per-sample losses or random targets, and the
    paper's two; not the softmax distillers (a softmax over one output is constant)."""
    assert sorted(["ft", "ga", "retrain", "rl", "neggrad+", "l1_sparse", "ssd",
                                 "salun", "blindspot", "gaussian_ft"]) == REGRESSION
    for name in ("bad_teacher", "scrub", "npo"):
        with pytest.raises(ObliviateError, match="does not support the 'regression' task"):
            get_method(name, task="regression")


# ---------------------------------------------------------------------------------------------
# Blindspot's loss, by hand

def test_attention_of_a_dense_layer_by_hand() -> None:
    """x = (3, 4): x^2 = (9, 16), |.| = sqrt(337) = 18.35756, so (0.490261, 0.871576).
    y = (1, 0): (1, 0). Squared differences 0.259834 and 0.759644, mean 0.509739."""
    x, y = torch.tensor([[3.0, 4.0]]), torch.tensor([[1.0, 0.0]])
    torch.testing.assert_close(attention(x), torch.tensor([[9 / math.sqrt(337),
                                                            16 / math.sqrt(337)]]))
    want = ((9 / math.sqrt(337) - 1) ** 2 + (16 / math.sqrt(337)) ** 2) / 2
    assert float(attention_diff(x, y)) == pytest.approx(want)
    assert want == pytest.approx(0.509739, abs=1e-6)


def test_attention_of_a_conv_map_averages_channels_first() -> None:
    """(1, 2, 1, 2): channels (1, 2) and (3, 0) at two positions: mean of squares over the
    channels (1 + 9) / 2 = 5 and (4 + 0) / 2 = 2, normalised: (5, 2) / sqrt(29)."""
    x = torch.tensor([[[[1.0, 2.0]], [[3.0, 0.0]]]])
    torch.testing.assert_close(attention(x), torch.tensor([[5.0, 2.0]]) / math.sqrt(29))


def test_blindspot_loss_by_hand() -> None:
    """3 forget and 1 retain sample: c = 3/4. Forget outputs (1, 2, 3) against the blindspot
    model's (1, 1, 1): L1 = (0 + 1 + 2) / 3 = 1. One activation pair with attention
    difference 0.509739 per sample (as above, for each of the three rows), beta 2: forget
    term 1 + 2 * 0.509739 = 2.019478. Retain loss 4. Total 0.75 * 2.019478 + 0.25 * 4 =
    2.514608."""
    out = torch.tensor([[1.0], [2.0], [3.0]])
    target = torch.ones(3, 1)
    acts = [torch.tensor([[3.0, 4.0]] * 3)]
    target_acts = [torch.tensor([[1.0, 0.0]] * 3)]
    loss = blindspot_loss(out, target, acts, target_acts, torch.tensor(4.0), 3, 1, beta=2.0)
    assert float(loss) == pytest.approx(2.514608, abs=1e-5)
    # Only retain samples in a batch: the retain loss alone; only forget: the forget term.
    assert float(blindspot_loss(out[:0], target[:0], [], [], torch.tensor(4.0), 0, 5,
                                beta=2.0)) == 4.0
    assert float(blindspot_loss(out, target, [], [], None, 3, 0, beta=2.0)) == pytest.approx(1.0)


def test_gaussian_targets_by_hand() -> None:
    """Targets 1, 2, 3, 4: mean 2.5, sample standard deviation sqrt(5/3) = 1.29099."""
    gen, again = (torch.Generator().manual_seed(3) for _ in range(2))
    got = gaussian_targets(torch.tensor([1.0, 2.0, 3.0, 4.0]), 5, gen)
    z = torch.randn(5, generator=again, dtype=torch.float64)
    torch.testing.assert_close(got, (2.5 + math.sqrt(5 / 3) * z).float())


# ---------------------------------------------------------------------------------------------
# the contract, on the tiny outliers scenario

@pytest.fixture(scope="module")
def pair() -> tuple[RegressionData, torch.nn.Module, torch.nn.Module]:
    data = TINY.build("outliers", 0)
    models = {}
    for role in ("original", "oracle"):
        m = data.new_model(role)
        data.train(m, role, progress=False)
        models[role] = m.eval()
    return data, models["original"], models["oracle"]


# Presets tuned for the bundled scenarios; the tiny one runs each method's preset for
# outliers where it has one, so every method moves the weights in a few steps.
def _cfg(name: str) -> object:
    from obliviate.presets import preset_for

    return build_config(METHODS[name].config, {**preset_for("outliers", name),
                                               **TINY_SETTINGS.get(name, {})})


# Measured on the tiny outliers scenario: SSD's alpha 10 (and 3) dampens no weight; alpha 2
# dampens ~10k, taking the outliers' score from 91 to -555 (the oracle's: -535).
TINY_SETTINGS: dict[str, dict[str, object]] = {"ssd": {"alpha": 2.0}}


def _run(name: str, pair: tuple[RegressionData, torch.nn.Module, torch.nn.Module],
         seed: int = 0) -> torch.nn.Module:
    data, original, _ = pair
    result = METHODS[name].unlearn(copy.deepcopy(original), data.unlearn_data(), _cfg(name),
                                   task=data.task, seed=seed)
    return result.model


@pytest.mark.parametrize("name", REGRESSION)
def test_contract(name: str, pair: tuple[RegressionData, torch.nn.Module, torch.nn.Module],
                  ) -> None:
    cfg = METHODS[name].config()
    assert dataclasses.is_dataclass(cfg) and METHODS[name].paper
    data, original, _ = pair
    a, b = _run(name, pair), _run(name, pair)
    for (k, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y), f"{name}: {k} differs between two runs with seed 0"
    before = original.state_dict()
    changed = [k for k, p in a.state_dict().items() if not torch.equal(p, before[k])]
    assert changed, f"{name} left every weight unchanged"
    assert all(torch.isfinite(p).all() for p in a.state_dict().values())


def test_retrain_rebuilds_the_oracle_weight_for_weight(
        pair: tuple[RegressionData, torch.nn.Module, torch.nn.Module]) -> None:
    data, original, oracle = pair
    result = METHODS["retrain"].unlearn(copy.deepcopy(original), data.unlearn_data(),
                                        RetrainConfig(), task=data.task, seed=0)
    for (k, x), y in zip(result.model.state_dict().items(), oracle.state_dict().values(),
                         strict=True):
        assert torch.equal(x, y), k


def test_the_blindspot_model_starts_apart_from_the_oracle(
        pair: tuple[RegressionData, torch.nn.Module, torch.nn.Module]) -> None:
    """Its initial weights are those of seed + offset, never the run seed's (the oracle's)."""
    data, original, _ = pair
    cfg = dataclasses.replace(BlindspotConfig(), blindspot_epochs=1, blindspot_lr=1e-12)
    blind = train_blindspot(original, data.retain, data.task, cfg, seed=0)
    oracle_init = data.new_model("oracle")
    own_init = data.with_seed(BLINDSPOT_SEED_OFFSET).new_model("oracle")
    w = blind.body[0].weight
    assert not torch.allclose(w, oracle_init.body[0].weight)
    torch.testing.assert_close(w, own_init.body[0].weight)
    assert not any(p.requires_grad for p in blind.parameters())  # frozen during unlearning


def test_blindspot_modules_default_to_every_activation(
        pair: tuple[RegressionData, torch.nn.Module, torch.nn.Module]) -> None:
    _, original, _ = pair
    assert activation_modules(original, ()) == ["body.1", "body.3"]
    with pytest.raises(ObliviateError, match="'nope'"):
        activation_modules(original, ("nope",))
