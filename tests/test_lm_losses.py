"""The shared maths of the language-model methods, against numbers worked out by hand in each
test's docstring (STYLE.md habit 4), and their configs' validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from obliviate.losses import (
    dpo_loss,
    flat_loss,
    inverted_hinge_loss,
    masked_mse,
    npo_loss,
    simnpo_loss,
    tnpo_token_weights,
)
from obliviate.methods import METHODS, rmu
from obliviate.methods.paired import answer_rows, lr_factor
from obliviate.types import Split


def test_npo_loss_by_hand() -> None:
    """Equal log-likelihoods: -(2/0.1) log sigmoid(0) = 20 log 2 = 13.8629.
    logp - ref = -10, beta 0.1: -(20) log sigmoid(1) = 20 log(1 + e^-1) = 6.26523."""
    t = torch.tensor
    assert math.isclose(float(npo_loss(t([-3.0, -8.0]), t([-3.0, -8.0]), 0.1)),
                        20 * math.log(2), rel_tol=1e-6)
    assert math.isclose(float(npo_loss(t([-12.0]), t([-2.0]), 0.1)), 6.26523, rel_tol=1e-5)


def test_tnpo_token_weights_by_hand() -> None:
    """p = 0.5, p_ref = 0.25, beta 1: 2 * 0.5 / (0.5 + 0.25) = 4/3; alpha 1 multiplies by
    p: 2/3. beta 2: 2 * 0.25 / (0.25 + 0.0625) = 1.6. Equal p: weight 1 at any beta. A token
    whose p fell to 1e-6 of its reference's: 2 / (1 + 1e6) = 2e-6 at beta 1 (it stops)."""
    t = torch.tensor
    lp, ref = t([math.log(0.5)]), t([math.log(0.25)])
    assert math.isclose(float(tnpo_token_weights(lp, ref, 1.0)), 4 / 3, rel_tol=1e-6)
    assert math.isclose(float(tnpo_token_weights(lp, ref, 1.0, alpha=1.0)), 2 / 3, rel_tol=1e-6)
    assert math.isclose(float(tnpo_token_weights(lp, ref, 2.0)), 1.6, rel_tol=1e-6)
    assert math.isclose(float(tnpo_token_weights(ref, ref, 0.3)), 1.0, rel_tol=1e-6)
    w = float(tnpo_token_weights(t([math.log(1e-7)]), t([math.log(0.1)]), 1.0))
    assert math.isclose(w, 2 / (1 + 1e6), rel_tol=1e-5)


def test_simnpo_margin_is_not_scaled_by_beta() -> None:
    """mean NLL 1, gamma 1. beta 1: -(2/1) log sigmoid(1 - 1) = 2 log 2 = 1.386294.
    beta 2: -(2/2) log sigmoid(2 * 1 - 1) = log(1 + e^-1) = 0.313262; the peer's
    beta * (nll - gamma) would give -log sigmoid(0) = log 2 = 0.693147 instead."""
    nll = torch.tensor([1.0])
    assert math.isclose(float(simnpo_loss(nll, 1.0, 1.0)), 2 * math.log(2), rel_tol=1e-6)
    assert math.isclose(float(simnpo_loss(nll, 2.0, 1.0)), 0.313262, rel_tol=1e-5)
    assert not math.isclose(float(simnpo_loss(nll, 2.0, 1.0)), math.log(2), rel_tol=1e-2)


def test_dpo_loss_by_hand() -> None:
    """Equal margins: -log sigmoid(0) = log 2. Preferred up 2 nats over the reference,
    rejected down 3, beta 0.1: -log sigmoid(0.1 * 5) = log(1 + e^-0.5) = 0.474077."""
    t = torch.tensor
    assert math.isclose(float(dpo_loss(t([-5.0]), t([-1.0]), t([-5.0]), t([-1.0]), 0.1)),
                        math.log(2), rel_tol=1e-6)
    assert math.isclose(float(dpo_loss(t([-3.0]), t([-4.0]), t([-5.0]), t([-1.0]), 0.1)),
                        0.474077, rel_tol=1e-5)


def test_inverted_hinge_loss_on_three_classes_by_hand() -> None:
    """p = (0.5, 0.3, 0.2). Label 0: 1 + 0.5 - 0.3 = 1.2. Label 2: 1 + 0.2 - 0.5 = 0.7.
    Mean of the two rows: 0.95."""
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2]]))
    assert math.isclose(float(inverted_hinge_loss(logits, torch.tensor([0, 2]))), 0.95,
                        rel_tol=1e-6)


def test_flat_loss_variational_forms_by_hand() -> None:
    """P_e = 0.5 (template), P_f = 0.9 (forget answer).
    KL: -g(P_e) + f*(g(P_f)) = -0.5 + exp(0.9 - 1) = -0.5 + 0.904837 = 0.404837.
    TV: -tanh(0.5)/2 + tanh(0.9)/2 = (-0.462117 + 0.716298) / 2 = 0.127090."""
    pe, pf = torch.tensor([0.5]), torch.tensor([0.9])
    assert math.isclose(float(flat_loss(pe, pf, "KL")), 0.404837, rel_tol=1e-5)
    assert math.isclose(float(flat_loss(pe, pf, "TV")), 0.127090, rel_tol=1e-4)
    with pytest.raises(ValueError, match="'Hellinger'"):
        flat_loss(pe, pf, "Hellinger")


def test_masked_mse_by_hand() -> None:
    """One sample, tokens (1, 2), (3, 4), (9, 9) against 0, the last masked out: per-token
    feature means 2.5 and 12.5, mean over the 2 real tokens 7.5."""
    a = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [9.0, 9.0]]])
    assert math.isclose(float(masked_mse(a, torch.zeros_like(a), torch.tensor([[1, 1, 0]]))),
                        7.5)


def test_lr_schedule_by_hand() -> None:
    """10 steps, 2 of warm-up: 1/2, 2/2, then (10 - s) / 8 for s = 2..9: 1, 7/8, ..., 1/8."""
    assert [lr_factor(s, 10, 2) for s in range(10)] == [0.5, 1.0] + [(10 - s) / 8
                                                               for s in range(2, 10)]


@pytest.mark.parametrize(("name", "kwargs", "named"), [
    ("npo", {"beta": 0.0}, "beta=0.0"),
    ("simnpo", {"gamma": -1.0}, "gamma=-1.0"),
    ("tnpo", {"alpha": -0.5}, "alpha=-0.5"),
    ("idkpo", {"retain_weight": -1.0}, "retain_weight=-1.0"),
    ("grad_diff", {"forget_weight": 0.0}, "forget_weight=0.0"),
    ("ihl", {"epochs": 0}, "epochs=0"),
    ("flat", {"divergence": "Hellinger"}, "divergence='Hellinger'"),
    ("rmu", {"alpha": -1.0}, "alpha=-1.0"),
])
def test_configs_reject_bad_values_by_name(name: str, kwargs: dict, named: str) -> None:
    with pytest.raises(ValueError, match=named.replace("(", r"\(")):
        METHODS[name].config(**kwargs)


def test_answer_rows_of_a_classifier_batch_are_its_labels() -> None:
    split = Split("s", torch.zeros(3, 2), torch.tensor([2, 0, 1]), np.arange(3))
    labels, sample = answer_rows(next(split.batches(3)))
    assert labels.tolist() == [2, 0, 1] and sample.tolist() == [0, 1, 2]


def test_rmu_control_vector_is_seeded_positive_and_scaled() -> None:
    u = rmu.control_vector(64, 6.5, seed=3)
    assert torch.equal(u, rmu.control_vector(64, 6.5, seed=3)) and (u >= 0).all()
    assert math.isclose(float(u.norm()), 6.5, rel_tol=1e-6)
