"""Attacks on cases whose answer is known, and the shadow-model scores against hand values."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import norm
from transformers.pytorch_utils import Conv1D

from conftest import train_pair
from obliviate.attacks import MARGIN, Target, run_attacks, verdict
from obliviate.attacks.quantize import QuantizeConfig, quantize_rtn, quantized
from obliviate.attacks.relearn import RelearnConfig, split_forget
from obliviate.attacks.shadow import ShadowConfig
from obliviate.cli import main
from obliviate.metrics.challenge import challenge_score
from obliviate.metrics.shadow import (
    DELTA,
    logit_confidence,
    strict_example_epsilon,
    strict_example_score,
    strict_forgetting_quality,
    ulira_accuracy,
)
from obliviate.runner import Trained
from obliviate.scenarios import get_scenario

FORGET_CLASS = 3


def target_of(t: Trained, unlearned: torch.nn.Module) -> Target:
    return Target(t.data, {"original": t.original, "unlearned": unlearned, "oracle": t.oracle},
                  seed=0)


def accuracy(model: torch.nn.Module, t: Trained, split: str) -> float:
    s = getattr(t.data, split)
    with torch.no_grad():
        return float((model(s.inputs).argmax(1) == s.targets).float().mean() * 100)


# -- quantization ---------------------------------------------------------------------------

def test_rtn_matches_hand_values() -> None:
    """Row 0: max|w| = 1. At 2 bits (levels 1) w/s = [1, -0.5, 0.26] rounds (half to even)
    to [1, -0, 0]; at 3 bits (levels 3, s = 1/3) w/s = [3, -1.5, 0.78] -> [3, -2, 1] ->
    [1, -2/3, 1/3]. An all-zero row stays zero."""
    w = torch.tensor([[1.0, -0.5, 0.26], [0.0, 0.0, 0.0]])
    assert torch.equal(quantize_rtn(w, 2), torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    assert torch.allclose(quantize_rtn(w, 3), torch.tensor([[1.0, -2 / 3, 1 / 3],
                                                            [0.0, 0.0, 0.0]]))
    # channels along dim 1 (GPT-2's Conv1D stores (in, out)): the transpose of the above
    assert torch.allclose(quantize_rtn(w.T, 3, channel_dim=1), quantize_rtn(w, 3).T)


def test_rtn_error_is_at_most_half_a_step() -> None:
    w = torch.randn(16, 40, generator=torch.Generator().manual_seed(0))
    for bits in (8, 4):
        step = w.abs().amax(dim=1, keepdim=True) / (2 ** (bits - 1) - 1)
        assert bool(((quantize_rtn(w, bits) - w).abs() <= step / 2 + 1e-7).all())


def test_quantized_covers_linear_and_conv1d_and_keeps_biases() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), Conv1D(3, 4))
    q = quantized(model, 2)
    assert torch.equal(q[0].weight, quantize_rtn(model[0].weight, 2, 0))
    assert torch.equal(q[1].weight, quantize_rtn(model[1].weight, 2, 1))
    assert torch.equal(q[0].bias, model[0].bias) and torch.equal(q[1].bias, model[1].bias)
    assert not torch.equal(q[0].weight, model[0].weight)  # the copy changed, not the model


def test_quantizing_an_unchanged_model_barely_changes_accuracy(tiny_class: Trained) -> None:
    """Tolerances: 8 bits within 1 point, 4 bits within 5 points of test accuracy."""
    t = tiny_class
    base = accuracy(t.original, t, "test")
    assert abs(accuracy(quantized(t.original, 8), t, "test") - base) <= 1.0
    assert abs(accuracy(quantized(t.original, 4), t, "test") - base) <= 5.0


def test_quantization_catches_forgetting_hidden_below_half_a_step(tiny_class: Trained) -> None:
    """Put the original on the 4-bit grid, then move every weight by 0.49 of its row's step
    against the gradient of the forgotten class's log-odds (its sign only). Weights at the
    row's largest magnitude stay, so each row keeps its scale and rounding maps this
    "unlearned" model back onto the original exactly, though the small moves add up to
    forgetting the class."""
    t = copy.deepcopy(tiny_class)
    t.original = quantized(t.original, 4)
    hidden = copy.deepcopy(t.original)
    f = t.data.forget
    logits = hidden(f.inputs)
    others = logits.clone()
    others[:, FORGET_CLASS] = -torch.inf
    (logits[:, FORGET_CLASS] - others.logsumexp(1)).mean().backward()
    with torch.no_grad():
        for layer in (m for m in hidden.modules() if isinstance(m, torch.nn.Linear)):
            w = layer.weight
            step = w.abs().amax(dim=1, keepdim=True) / 7
            delta = -0.49 * step * w.grad.sign()
            delta[w.abs() == w.abs().amax(dim=1, keepdim=True)] = 0.0  # keep the scale
            w += delta
    hidden.zero_grad(set_to_none=True)
    entry = run_attacks(["quantize"], {"quantize": QuantizeConfig()}, target_of(t, hidden),
                        None)["quantize"]
    v4 = entry["variants"]["4-bit"]
    assert v4["before"]["unlearned"] <= 10  # it looks forgotten ...
    assert v4["after"]["unlearned"] == v4["after"]["original"] >= 90  # ... until rounded
    assert v4["verdict"] == "recovered"
    for v in entry["variants"].values():  # the oracle never learned class 3
        assert v["after"]["oracle"] <= 10


# -- relearning -------------------------------------------------------------------------------

@pytest.mark.parametrize(("bias", "cfg"), [(10.0, RelearnConfig()),
                                          (30.0, RelearnConfig(lr=3e-3))])
def test_relearning_catches_a_large_negative_bias(tiny_class: Trained, bias: float,
                                                  cfg: RelearnConfig) -> None:
    """"Forgetting" by subtracting ``bias`` from the forgotten class's logit (its odds fall
    by e^10 or e^30): the features still know the class, so a few steps on 10% of it bring
    back the rest, while the oracle, under the same steps, stays far lower. Adam moves a
    weight by about lr per step, so a larger bias needs a larger lr (measured: at lr 1e-3,
    10 steps undo -10 but not -30)."""
    t = tiny_class
    biased = copy.deepcopy(t.original)
    biased.head.bias.data[FORGET_CLASS] -= bias
    v = run_attacks(["relearn"], {"relearn": cfg}, target_of(t, biased),
                    None)["relearn"]["variants"]["relearn"]
    assert v["before"]["unlearned"] <= 5  # looks forgotten
    assert v["after"]["unlearned"] >= 90
    assert v["after"]["oracle"] <= 50
    assert v["verdict"] == "recovered"


def test_relearning_does_not_flag_a_model_that_never_saw_the_data(tiny_class: Trained) -> None:
    t = tiny_class
    v = run_attacks(["relearn"], {"relearn": RelearnConfig()}, target_of(t, t.oracle),
                    None)["relearn"]["variants"]["relearn"]
    assert v["after"]["unlearned"] == v["after"]["oracle"]  # the same model, the same steps
    assert v["verdict"] == "survives"


def test_relearning_tests_only_samples_it_did_not_show(tiny_class: Trained) -> None:
    target = target_of(tiny_class, tiny_class.oracle)
    shown, rest = split_forget(target, 0.1, seed=0)
    n = len(tiny_class.data.forget)
    assert len(shown) == round(0.1 * n) and len(shown) + len(rest) == n
    assert not set(shown.ids) & set(rest.ids)


def test_verdicts() -> None:
    assert verdict({"unlearned": 0, "oracle": 0}, {"unlearned": MARGIN + 1, "oracle": 0}) \
        == "recovered"
    assert verdict({"unlearned": 0, "oracle": 0}, {"unlearned": MARGIN, "oracle": 0}) \
        == "survives"
    assert verdict({"unlearned": 90, "oracle": 0}, {"unlearned": 90, "oracle": 0}) \
        == "not forgotten"


# -- shadow models: U-LiRA and the NeurIPS 2023 score ---------------------------------------

def test_logit_confidence_is_log_odds_of_the_true_label() -> None:
    logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    labels = np.array([0, 1])
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    want = np.log(p[[0, 1], labels] / (1 - p[[0, 1], labels]))
    assert np.allclose(logit_confidence(logits, labels), want)
    # far beyond float precision of p: still finite and exact
    assert logit_confidence(np.array([[100.0, 0.0]]), np.array([0]))[0] == pytest.approx(100.0)


def _ulira_scipy(u: np.ndarray, r: np.ndarray) -> float:
    """U-LiRA leave-one-pair-out accuracy for one example, with scipy's normal pdf."""
    right = []
    for j in range(len(u)):
        fu, fr = np.delete(u, j), np.delete(r, j)
        for x, is_u in ((u[j], True), (r[j], False)):
            lu = norm.logpdf(x, fu.mean(), fu.std(ddof=1))
            lr = norm.logpdf(x, fr.mean(), fr.std(ddof=1))
            right.append(0.5 if lu == lr else float((lu > lr) == is_u))
    return float(np.mean(right))


def test_ulira_accuracy_against_hand_and_scipy() -> None:
    sep_u, sep_r = np.array([0.0, 0.1, -0.1]), np.array([1.0, 1.1, 0.9])
    assert ulira_accuracy(sep_u[:, None], sep_r[:, None])[0] == 1.0  # separated: always right
    rng = np.random.default_rng(0)
    u, r = rng.normal(0, 1, (6, 20)), rng.normal(0.3, 1.5, (6, 20))
    got = ulira_accuracy(u, r)
    assert np.allclose(got, [_ulira_scipy(u[:, i], r[:, i]) for i in range(20)])
    with pytest.raises(ValueError, match="K >= 3"):
        ulira_accuracy(u[:2], r[:2])


def test_strict_epsilon_hand_values() -> None:
    # Perfectly separated: FPR = FNR = 0 for "c > 1.5" -> epsilon 50, score 0.
    assert strict_example_epsilon(np.array([0.0, 1.0]), np.array([2.0, 3.0])) == 50.0
    # Interleaved 0 < 1 < 2 < 3 (U = {0, 2}, R = {1, 3}): every non-skipped threshold has
    # FPR = FNR = 1/2 or worse -> epsilon 0 (clipped), score 2^0 = 1.
    assert strict_example_epsilon(np.array([0.0, 2.0]), np.array([1.0, 3.0])) == 0.0
    # U = {0, 1, 2, 5}, R = {3, 4, 6, 7}: "c < 3.5" calls 3 of 4 U and 1 of 4 R unlearned,
    # FNR = FPR = 1/4: log(1 - d - 1/4) - log(1/4) = ln 3 - 1.3e-5; no threshold does better.
    eps = strict_example_epsilon(np.array([0.0, 1.0, 2.0, 5.0]), np.array([3.0, 4.0, 6.0, 7.0]))
    assert eps == pytest.approx(math.log(0.75 - DELTA) - math.log(0.25), abs=1e-12)
    assert strict_example_score(eps) == 0.25  # floor(1.0986 / 0.5) = 2
    assert strict_example_score(0.49) == 1.0 and strict_example_score(6.99) == 2.0 ** -13
    assert strict_example_score(7.0) == 0.0


def test_forgetting_quality_and_final_score() -> None:
    u = np.array([[0.0, 0.0], [1.0, 2.0]])  # example 0: U {0, 1}; example 1: U {0, 2}
    r = np.array([[2.0, 1.0], [3.0, 3.0]])  # example 0: R {2, 3} separated; 1 interleaved
    quality, eps = strict_forgetting_quality(u, r)
    assert list(eps) == [50.0, 0.0] and quality == 0.5  # mean of scores 0 and 1
    assert challenge_score(0.5, 90.0, 100.0, 80.0, 100.0) == pytest.approx(0.36)


def test_shadow_attack_on_a_run(tiny_class: Trained) -> None:
    """The oracle's own seeds as the "unlearned" group: per example the attack is near
    chance, while the original (never unlearned) is told apart almost always."""
    t = tiny_class
    oracles, originals = [t.oracle], [t.original]
    for s in (1, 2):  # the same splits, other seeds
        more = train_pair(dataclasses.replace(t.data, seed=s))
        oracles.append(more.oracle)
        originals.append(more.original)
    target = target_of(t, t.oracle)
    cfg = ShadowConfig(k=3)

    def values(unlearned: list[torch.nn.Module]) -> dict[str, float]:
        pairs = list(zip(unlearned, oracles, strict=True))
        return run_attacks(["shadow"], {"shadow": cfg}, target, lambda k: pairs)[
            "shadow"]["values"]

    same = values(oracles)
    assert same["U-LiRA accuracy"] == 50.0  # identical groups: every ratio is 1, a tie
    # identical groups: every threshold has FPR = 1 - FNR, epsilon ~ 0, each example scores 1
    assert same["challenge forgetting quality F"] == 1.0 and same["challenge score"] == 1.0
    assert same["strict forgetting quality F"] == 1.0
    leaky = values(originals)
    assert leaky["U-LiRA accuracy"] >= 90
    assert leaky["challenge forgetting quality F"] <= 0.1
    assert leaky["strict forgetting quality F"] <= 0.1


# -- worst-case forget sets -------------------------------------------------------------------

def test_worst_case_set_is_deterministic_and_avoids_noisy_labels() -> None:
    noisy = get_scenario("digits-noisy")
    a, b = noisy.build("worst:0.1", 0), noisy.build("worst:0.1", 0)
    assert np.array_equal(a.forget.ids, b.forget.ids)
    n_train = len(a.forget) + len(a.retain)
    assert len(a.forget) == round(0.1 * n_train)
    pool = a.pool
    true = pool.y[a.forget.ids]
    trained_as = a.forget.targets.numpy()
    # 20% of training labels are wrong; the typical samples picked are correctly labelled
    assert (true == trained_as).mean() >= 0.98


# -- the CLI ------------------------------------------------------------------------------------

def cli(home: Path, *argv: str) -> int:
    return main(["--home", str(home), "--quiet", *argv])


def test_run_with_attacks_prints_before_after_and_oracle(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(tmp_path, "run", "--forget", "class:3", "--method", "rl", "--model", "mlp",
               "--attack", "relearn,quantize", "--attack-set", "relearn.steps=5",
               "quantize.bits=4") == 0
    out = capsys.readouterr().out
    assert "oracle after attack" in out and "4-bit" in out and "8-bit" not in out
    record = json.loads(next((tmp_path / "runs").glob("*.json")).read_text())
    assert record["attacks"]["relearn"]["config"]["steps"] == 5
    v = record["attacks"]["quantize"]["variants"]["4-bit"]
    assert set(v["before"]) == set(v["after"]) == {"original", "unlearned", "oracle"}


@pytest.mark.parametrize(("argv", "needles"), [
    (["--attack", "nope"], ["unknown attack 'nope'", "relearn"]),
    (["--attack", "forms"], ["'forms'", "lm"]),
    (["--attack", "relearn", "--attack-set", "quantize.bits=4"], ["'quantize'", "not among"]),
    (["--attack", "relearn", "--attack-set", "relearn.stepz=4"], ["stepz", "valid fields"]),
    (["--attack", "relearn", "--attack-set", "relearn.fraction=1.0"], ["fraction=1.0"]),
    (["--attack", "shadow", "--attack-set", "shadow.k=2"], ["k=2", ">= 3"]),
    (["--attack", "quantize", "--attack-set", "quantize.bits=1"], ["bits"]),
])
def test_bad_attack_arguments_fail_before_training(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
        needles: list[str]) -> None:
    assert cli(tmp_path, "run", "--forget", "class:3", "--method", "rl", *argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("obliviate: error:"), err
    for n in needles:
        assert n in err[0], (n, err[0])
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())


def test_sequence_of_requests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(tmp_path, "sequence", "--forget", "random:0.05", "--method", "ssd", "--model",
               "mlp", "--requests", "2", "--json") == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["sequence"]["request"] for r in records] == [1, 2]
    first, second = (r["sequence"] for r in records)
    assert second["forget_so_far"] == first["forget_this_request"] + \
        second["forget_this_request"]
    # each request is measured on everything forgotten so far, beside its own oracle
    assert [r["scenario"]["sizes"]["forget"] for r in records] == [
        first["forget_so_far"], second["forget_so_far"]]
    assert records[0]["scenario"]["sizes"]["retain"] == records[1]["scenario"]["sizes"][
        "retain"] + second["forget_this_request"]
    assert cli(tmp_path, "sequence", "--forget", "class:3", "--method", "ssd",
               "--requests", "1") == 2
    assert "at least 2 requests" in capsys.readouterr().err
