"""Classifier metrics against hand-computed values and independent implementations."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from scipy.spatial.distance import jensenshannon
from scipy.special import softmax
from sklearn.metrics import accuracy_score
from sklearn.svm import SVC
from torch import nn

from obliviate.errors import ObliviateError
from obliviate.metrics import (
    METRICS,
    MetricValue,
    accuracy,
    avg_gap,
    get_metric,
    headline,
    js_divergence,
    mia_efficacy,
    per_class_accuracy,
    select_members,
    unlearning_accuracy,
)
from obliviate.tasks.classification.probe import probe, probe_features
from obliviate.types import Outputs, Split

TINY = Outputs(
    logits=np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 5.0], [4.0, 0.0, 0.0]]),
    labels=np.array([0, 2, 2, 1]),
)


def _random_outputs(rng: np.random.Generator, n: int, c: int = 4, scale: float = 2.0,
                    boost: float = 0.0) -> Outputs:
    """Random logits; ``boost`` is added to the true class (higher = more confident)."""
    labels = rng.integers(0, c, size=n)
    logits = rng.normal(scale=scale, size=(n, c))
    logits[np.arange(n), labels] += boost
    return Outputs(logits=logits, labels=labels)


def test_accuracy_by_hand() -> None:
    """argmax rows = [0, 1, 2, 0]; labels [0, 2, 2, 1] -> correct [1, 0, 1, 0].

    accuracy = 2/4 = 50 %; UA = 100 - 50 = 50 %.
    per class: class 0 has sample 0 (right) -> 100; class 1 has sample 3 (wrong) -> 0;
    class 2 has samples 1 (wrong) and 2 (right) -> 50; class 3 has none -> NaN.
    """
    acc = accuracy(TINY)
    assert acc.value == 50.0
    np.testing.assert_array_equal(acc.per_sample, [1.0, 0.0, 1.0, 0.0])
    ua = unlearning_accuracy(TINY)
    assert ua.value == 50.0
    np.testing.assert_array_equal(ua.per_sample, [0.0, 1.0, 0.0, 1.0])
    np.testing.assert_array_equal(per_class_accuracy(TINY, 4), [100.0, 0.0, 50.0, np.nan])
    three_right = Outputs(TINY.logits, np.array([0, 1, 2, 1]))  # 3/4 -> 75 %, UA 25 %
    assert accuracy(three_right).value == 75.0
    assert unlearning_accuracy(three_right).value == 25.0


def test_accuracy_matches_sklearn() -> None:
    out = _random_outputs(np.random.default_rng(0), 300, c=5)
    expected = 100.0 * accuracy_score(out.labels, out.logits.argmax(axis=1))
    assert accuracy(out).value == pytest.approx(expected)
    assert unlearning_accuracy(out).value == pytest.approx(100.0 - expected)


def test_accuracy_rejects_bad_input() -> None:
    empty = Outputs(np.zeros((0, 3)), np.zeros(0, dtype=np.int64))
    for fn in (accuracy, unlearning_accuracy, lambda o: per_class_accuracy(o, 3)):
        with pytest.raises(ValueError, match="empty"):
            fn(empty)
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        per_class_accuracy(TINY, 2)


def test_js_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    p, q = rng.normal(scale=3, size=(50, 6)), rng.normal(scale=3, size=(50, 6))
    js = js_divergence(p, q)
    expected = jensenshannon(softmax(p, axis=1), softmax(q, axis=1), axis=1) ** 2  # base e
    np.testing.assert_allclose(js.per_sample, expected, rtol=1e-9, atol=1e-12)
    assert js.value == pytest.approx(expected.mean())


def test_js_properties() -> None:
    rng = np.random.default_rng(2)
    p, q = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    assert js_divergence(p, p).value == 0.0
    np.testing.assert_allclose(js_divergence(p, q).per_sample, js_divergence(q, p).per_sample)
    # One-hot softmax outputs (exact zeros): disjoint supports reach the bound ln 2.
    a, b = np.array([[0.0, -1e9]]), np.array([[-1e9, 0.0]])
    disjoint = js_divergence(a, b)
    assert np.isfinite(disjoint.value)
    assert disjoint.value == pytest.approx(np.log(2))
    half = js_divergence(a, np.zeros((1, 2)))  # [1, 0] vs [.5, .5], m = [.75, .25]
    by_hand = 0.5 * np.log(1 / 0.75) + 0.5 * (0.5 * np.log(0.5 / 0.75) + 0.5 * np.log(2))
    assert half.value == pytest.approx(by_hand)
    with pytest.raises(ValueError, match="same shape"):
        js_divergence(p, q[:, :2])


@pytest.mark.parametrize("gap", [700.0, 730.0, 744.0, 744.4, 745.0, 745.2, 760.0, 800.0])
def test_js_saturated_logits_stay_finite_and_bounded(gap: float) -> None:
    """Logit gaps of 700-800: float64 softmax probabilities of the losing class are
    subnormal (exp(-744.4) ~ 5e-324) or 0, and a probability-space JS divides by an M that
    rounds to 0 (inf). In log space it stays in [0, ln 2] and equals the limit worked out by
    hand. For p = softmax([0, -gap]) ~ [1, e^-gap] against q = its mirror: JS -> ln 2. For p
    against the uniform q = [.5, .5]: KL(P||M) -> log(1/.75), KL(Q||M) -> .5 log(.5/.75) +
    .5 log(.5/.25), JS is half their sum."""
    a, b = np.array([[0.0, -gap]]), np.array([[-gap, 0.0]])
    mirror = js_divergence(a, b)
    assert np.isfinite(mirror.value) and 0.0 <= mirror.value <= np.log(2)
    assert mirror.value == pytest.approx(np.log(2), abs=1e-12)
    uniform = js_divergence(a, np.zeros((1, 2)))
    by_hand = 0.5 * np.log(1 / 0.75) + 0.5 * (0.5 * np.log(0.5 / 0.75) + 0.5 * np.log(2))
    assert uniform.value == pytest.approx(by_hand, abs=1e-12)
    # Many classes, several saturated at once, each row against a random softmax.
    rng = np.random.default_rng(int(gap))
    p = rng.normal(size=(40, 10)) * 3
    p[:, :5] -= gap
    q = rng.normal(size=(40, 10)) * 3
    q[:, 5:] -= gap * rng.uniform(0.9, 1.1, size=(40, 1))
    js = js_divergence(p, q)
    assert np.isfinite(js.per_sample).all()
    assert (js.per_sample >= 0).all() and (js.per_sample <= np.log(2)).all()


def test_js_refuses_non_finite_logits() -> None:
    with pytest.raises(ValueError, match="finite"):
        js_divergence(np.array([[np.nan, 0.0]]), np.zeros((1, 2)))


def _mia_reference(retain: Outputs, test: Outputs, forget: Outputs, seed: int) -> float:
    """Independent MIA-Efficacy: sklearn directly, same member positions, own softmax."""

    def conf(o: Outputs) -> np.ndarray:
        e = np.exp(o.logits - o.logits.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True))[np.arange(len(o.labels)), o.labels]

    members = conf(retain)[select_members(len(retain.labels), len(test.labels), seed)]
    x = np.concatenate([members, conf(test)])[:, None]
    y = np.r_[np.ones(len(members)), np.zeros(len(test.labels))]
    pred = SVC(C=3, gamma="auto", kernel="rbf").fit(x, y).predict(conf(forget)[:, None])
    return 100.0 * (1.0 - pred.mean())


def test_mia_matches_independent_implementation() -> None:
    rng = np.random.default_rng(3)
    retain = _random_outputs(rng, 200, boost=4.0)
    test, forget = _random_outputs(rng, 60, boost=1.0), _random_outputs(rng, 40, boost=2.5)
    got = mia_efficacy(retain, test, forget, seed=7)
    assert got.value == pytest.approx(_mia_reference(retain, test, forget, 7))
    assert 0.0 < got.value < 100.0  # the check is not trivially all-or-nothing


def test_mia_member_selection() -> None:
    members = select_members(100, 30, seed=0)
    assert len(members) == 30 == len(np.unique(members))
    np.testing.assert_array_equal(members, select_members(100, 30, seed=0))
    assert not np.array_equal(members, select_members(100, 30, seed=1))
    np.testing.assert_array_equal(select_members(10, 30, seed=0), np.arange(10))  # all of D_r


def test_mia_behaviour() -> None:
    rng = np.random.default_rng(4)
    retain = _random_outputs(rng, 150, scale=0.5, boost=6.0)  # memorised: confident
    test = _random_outputs(rng, 100, scale=1.0, boost=0.0)  # unseen: unsure
    looks_unseen = mia_efficacy(retain, test, test, seed=0)
    looks_trained = mia_efficacy(retain, test, retain, seed=0)
    assert looks_unseen.value > 80.0
    assert looks_trained.value < 20.0
    with pytest.raises(ValueError, match="forget Outputs are empty"):
        mia_efficacy(retain, test, Outputs(np.zeros((0, 4)), np.zeros(0, np.int64)), seed=0)


def test_avg_gap() -> None:
    """|10-12|, |99-100|, |90-88|, |50-55| -> (2 + 1 + 2 + 5) / 4 = 2.5 points."""
    unlearned = {"UA": 10.0, "RA": 99.0, "TA": 90.0, "MIA-Eff": 50.0, "JS(D_f)": 0.3}
    oracle = {"UA": 12.0, "RA": 100.0, "TA": 88.0, "MIA-Eff": 55.0}
    assert avg_gap(unlearned, oracle) == 2.5
    with pytest.raises(ValueError, match="oracle values lack MIA-Eff"):
        avg_gap(unlearned, {k: v for k, v in oracle.items() if k != "MIA-Eff"})
    with pytest.raises(ValueError, match="not finite for TA"):
        avg_gap({**unlearned, "TA": float("nan")}, oracle)


def test_registry() -> None:
    classifier = [m.name for m in METRICS.values() if "classification" in m.kinds]
    assert classifier[:8] == ["UA", "RA", "TA", "MIA-Eff", "Avg.Gap", "JS(D_f)", "JS(D_t)",
                              "RTE"]
    assert get_metric("JS(D_f)").unit == "nats"
    assert headline("classification").name == "Avg.Gap"
    assert headline("lm").name == "Forget quality"
    assert all(m.reference and m.kinds for m in METRICS.values())
    with pytest.raises(ObliviateError, match="valid metrics: UA, RA"):
        get_metric("accuracy")


# name -> (metric of three same-length Outputs a, b, c; value = scale * mean(per_sample);
# value range). Per-sample values belong to ``a``. MIA takes a = D_f, b = D_r, c = D_t: with
# |D_r| = |D_t| every retain sample is a member, so permuting D_r cannot change the member set.
Metric = Callable[[Outputs, Outputs, Outputs], MetricValue]
PER_SAMPLE: dict[str, tuple[Metric, float, tuple[float, float]]] = {
    "accuracy": (lambda a, b, c: accuracy(a), 100.0, (0.0, 100.0)),
    "UA": (lambda a, b, c: unlearning_accuracy(a), 100.0, (0.0, 100.0)),
    "JS": (lambda a, b, c: js_divergence(a.logits, b.logits), 1.0, (0.0, float(np.log(2)))),
    "MIA-Eff": (lambda a, b, c: mia_efficacy(b, c, a, seed=0), 100.0, (0.0, 100.0)),
}


@pytest.mark.parametrize("name", list(PER_SAMPLE))
def test_per_sample_metric_properties(name: str) -> None:
    fn, scale, (low, high) = PER_SAMPLE[name]
    rng = np.random.default_rng(5)
    a, b, c = (_random_outputs(rng, 60, boost=k) for k in (2.0, 4.0, 1.0))
    got = fn(a, b, c)
    assert got.per_sample.shape == (60,)
    assert low <= got.value <= high + 1e-12
    assert np.all((got.per_sample >= low / scale) & (got.per_sample <= high / scale + 1e-12))
    assert got.value == pytest.approx(scale * got.per_sample.mean())
    # Same permutation for every input: JS pairs rows of a and b by position.
    perm = rng.permutation(60)
    shuffled = fn(*(Outputs(o.logits[perm], o.labels[perm]) for o in (a, b, c)))
    assert shuffled.value == pytest.approx(got.value)
    np.testing.assert_allclose(shuffled.per_sample, got.per_sample[perm])


def test_probe_matches_manual_forward() -> None:
    torch.manual_seed(0)
    body = nn.Linear(5, 4)
    model = nn.Sequential()
    model.add_module("body", body)
    model.add_module("head", nn.Linear(4, 3))
    x, y = torch.randn(10, 5), torch.randint(0, 3, (10,))
    split = Split("test", x, y, np.arange(10))
    grad_on: list[bool] = []
    model.register_forward_hook(lambda *_: grad_on.append(torch.is_grad_enabled()))
    model.train()
    out = probe(model, split, batch_size=3)  # 4 batches: 3 + 3 + 3 + 1
    with torch.no_grad():
        expected = model(x).double().numpy()
    np.testing.assert_allclose(out.logits, expected, rtol=1e-6)
    assert out.logits.dtype == np.float64 and out.labels.dtype == np.int64
    np.testing.assert_array_equal(out.labels, y.numpy())
    assert model.training and grad_on[:4] == [False] * 4
    assert all(p.grad is None for p in model.parameters())
    model.eval()
    feats = probe_features(model, split, module="body")
    with torch.no_grad():
        np.testing.assert_allclose(feats, body(x).double().numpy(), rtol=1e-6)
    assert not model.training
