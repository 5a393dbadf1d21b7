"""Config building, pass counting, the lr schedule, the classification task and the KD loss."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from scipy.special import softmax
from scipy.stats import entropy
from torch import nn

from obliviate.config import build_config, parse_assignments
from obliviate.errors import ConfigError
from obliviate.losses import kl_to_teacher
from obliviate.methods.retrain import RetrainConfig
from obliviate.passes import count_passes
from obliviate.tasks import ClassificationTask
from obliviate.tasks.classification.nets import build_mlp
from obliviate.tasks.classification.training import cosine_lr
from obliviate.types import Batch

# ---------------------------------------------------------------------------------------------
# config


@dataclass(frozen=True)
class _Cfg:
    flag: bool = False
    n: int = 1
    x: float = 0.5
    s: str = "a"
    opt: float | None = None

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError(f"_Cfg: n={self.n} (want >= 0)")


def test_build_config_coerces_each_type() -> None:
    cfg = build_config(_Cfg, {"flag": "yes", "n": "3", "x": "1e-3", "s": "hello", "opt": "2"})
    assert cfg == _Cfg(flag=True, n=3, x=0.001, s="hello", opt=2.0)
    assert type(cfg.n) is int and type(cfg.x) is float and type(cfg.opt) is float
    assert build_config(_Cfg, {}) == _Cfg()
    assert build_config(_Cfg, {"opt": "None"}).opt is None
    assert build_config(_Cfg, {"opt": "null"}).opt is None


@pytest.mark.parametrize("text,value", [("true", True), ("True", True), ("1", True),
                                        ("yes", True), ("false", False), ("FALSE", False),
                                        ("0", False), ("no", False)])
def test_build_config_bool_spellings(text: str, value: bool) -> None:
    assert build_config(_Cfg, {"flag": text}).flag is value


def test_build_config_passes_non_strings_through() -> None:
    assert build_config(_Cfg, {"n": 4, "opt": None}) == _Cfg(n=4, opt=None)


def test_build_config_optional_int_fields() -> None:
    """RetrainConfig's fields are ``int | None`` and ``float | None``."""
    cfg = build_config(RetrainConfig, {"epochs": "3", "lr": "0.01"})
    assert cfg == RetrainConfig(epochs=3, lr=0.01)
    assert type(cfg.epochs) is int
    assert build_config(RetrainConfig, {"epochs": "none"}) == RetrainConfig()


def test_build_config_unknown_key_lists_fields() -> None:
    with pytest.raises(ConfigError, match="RetrainConfig has no field 'epoch'; "
                                          "valid fields: epochs, lr"):
        build_config(RetrainConfig, {"epoch": "3"})


@pytest.mark.parametrize("cls,key,raw,message", [
    (RetrainConfig, "epochs", "abc", r"RetrainConfig\.epochs: 'abc' is not a valid int \| None"),
    (RetrainConfig, "epochs", "2.5", r"RetrainConfig\.epochs: '2\.5' is not a valid"),
    (RetrainConfig, "lr", "fast", r"RetrainConfig\.lr: 'fast' is not a valid float \| None"),
    (_Cfg, "flag", "maybe", r"_Cfg\.flag: 'maybe' is not a valid bool"),
    (_Cfg, "n", "3.0", r"_Cfg\.n: '3\.0' is not a valid int"),
    (_Cfg, "x", "", r"_Cfg\.x: '' is not a valid float"),
])
def test_build_config_bad_value_names_field(cls: type, key: str, raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_config(cls, {key: raw})


def test_build_config_post_init_rejection_is_config_error() -> None:
    with pytest.raises(ConfigError, match=r"epochs=0 \(want >= 1 or None\)"):
        build_config(RetrainConfig, {"epochs": "0"})
    # nan and inf are refused while parsing, before __post_init__ sees them.
    for bad in ("nan", "inf", "-inf"):
        with pytest.raises(ConfigError, match=f"RetrainConfig.lr: '{bad}' must be a finite"):
            build_config(RetrainConfig, {"lr": bad})
    with pytest.raises(ConfigError, match="n=-1"):
        build_config(_Cfg, {"n": "-1"})


def test_parse_assignments() -> None:
    assert parse_assignments([]) == {}
    assert parse_assignments(["lr=0.01", " epochs = 3 ", "expr=a=b", "empty=", "lr=0.02"]) == \
        {"lr": "0.02", "epochs": "3", "expr": "a=b", "empty": ""}


@pytest.mark.parametrize("item", ["lr", "=3", "  =3", ""])
def test_parse_assignments_errors(item: str) -> None:
    with pytest.raises(ConfigError, match=f"bad --set '{item}'; expected KEY=VALUE"):
        parse_assignments(["ok=1", item])


# ---------------------------------------------------------------------------------------------
# pass counting


def test_count_passes_forward_and_backward() -> None:
    """Forward batches of 5 and 3, backward through the first only -> forward 8, backward 5.
    Then a no_grad forward of 7 -> forward 15, backward still 5. Then one loss over a batch of
    2 and a batch of 4 -> forward 21, backward 11."""
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    with count_passes(model) as c:
        out1 = model(torch.randn(5, 4))
        model(torch.randn(3, 4))
        out1.sum().backward()
        assert (c.forward, c.backward) == (8, 5)
        with torch.no_grad():
            model(torch.randn(7, 4))
        assert (c.forward, c.backward) == (15, 5)
        (model(torch.randn(2, 4)).sum() + model(torch.randn(4, 4)).sum()).backward()
        assert (c.forward, c.backward) == (21, 11)
    model(torch.randn(9, 4)).sum().backward()  # after the context: not counted
    assert (c.forward, c.backward) == (21, 11)


def test_count_passes_counts_root_calls_only() -> None:
    """A 3-layer MLP called on a batch of 6 is one forward of 6 samples, not 3 x 6."""
    model = build_mlp((4,), 3)
    with count_passes(model) as c:
        model(torch.randn(6, 4)).sum().backward()
    assert (c.forward, c.backward) == (6, 6)


# ---------------------------------------------------------------------------------------------
# cosine schedule


@pytest.mark.parametrize("base,step,total,expect", [
    (1.0, 0, 4, 1.0),                                   # 0.5 (1 + cos 0) = 1
    (1.0, 1, 4, 0.5 * (1 + math.sqrt(2) / 2)),          # 0.5 (1 + cos pi/4) = 0.853553
    (1.0, 2, 4, 0.5),                                   # 0.5 (1 + cos pi/2) = 0.5
    (1.0, 3, 4, 0.5 * (1 - math.sqrt(2) / 2)),          # 0.5 (1 + cos 3pi/4) = 0.146447
    (1.0, 4, 4, 0.0),                                   # 0.5 (1 + cos pi) = 0
    (1.0, 9, 4, 0.0),                                   # past the end: clamped at 0
    (0.1, 2, 4, 0.05),                                  # scales with base
    (1.0, 0, 0, 1.0),                                   # total 0 does not divide by zero
])
def test_cosine_lr(base: float, step: int, total: int, expect: float) -> None:
    assert cosine_lr(base, step, total) == pytest.approx(expect, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# classification task

LOGITS = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
LABELS = torch.tensor([2, 0])


def test_per_sample_loss_by_hand() -> None:
    """Row 0: log(e + e^2 + e^3) - 3 = log(1 + e^-1 + e^-2) = log(1.503215) = 0.407606.
    Row 1: uniform over 3 classes -> log 3 = 1.098612."""
    task = ClassificationTask(3)
    batch = Batch(LOGITS, LABELS)
    loss = task.per_sample_loss(nn.Identity(), batch)
    expect = torch.tensor([math.log(1 + math.exp(-1) + math.exp(-2)), math.log(3)])
    torch.testing.assert_close(loss, expect)
    torch.testing.assert_close(loss[0], torch.tensor(0.407606), atol=1e-6, rtol=0)
    torch.testing.assert_close(task.log_likelihood(nn.Identity(), batch), -expect)
    torch.testing.assert_close(task.logits(nn.Identity(), batch), LOGITS)


def test_task_needs_two_classes() -> None:
    with pytest.raises(ValueError, match="needs >= 2 classes, got 1"):
        ClassificationTask(1)


def test_alternative_targets() -> None:
    """4 classes, 250 samples of each: every new label differs from the true one, and for each
    true label each of the 3 others appears (expected 83.3 times, sd sqrt(250 * 1/3 * 2/3) =
    7.5; accept 83.3 +- 5 sd, i.e. 46..121)."""
    task = ClassificationTask(4)
    targets = torch.arange(4).repeat(250)
    batch = Batch(torch.zeros(1000, 2), targets)
    new = task.alternative_targets(nn.Identity(), batch, torch.Generator().manual_seed(0))
    assert new.inputs is batch.inputs
    assert (new.targets != targets).all()
    assert ((new.targets >= 0) & (new.targets < 4)).all()
    for k in range(4):
        counts = torch.bincount(new.targets[targets == k], minlength=4)
        assert counts[k] == 0
        others = [int(counts[j]) for j in range(4) if j != k]
        assert all(46 <= c <= 121 for c in others), (k, others)
    again = task.alternative_targets(nn.Identity(), batch, torch.Generator().manual_seed(0))
    assert torch.equal(again.targets, new.targets)


def test_alternative_targets_two_classes_is_the_other_class() -> None:
    task = ClassificationTask(2)
    targets = torch.tensor([0, 1, 1, 0])
    new = task.alternative_targets(nn.Identity(), Batch(torch.zeros(4, 1), targets),
                                   torch.Generator().manual_seed(0))
    assert new.targets.tolist() == [1, 0, 0, 1]


def test_hidden_returns_body_output() -> None:
    torch.manual_seed(0)
    model = build_mlp((4,), 3)
    x = torch.randn(5, 4)
    task = ClassificationTask(3)
    h = task.hidden(model, Batch(x, torch.zeros(5, dtype=torch.int64)), "body")
    torch.testing.assert_close(h, model.body(x))
    assert h.shape == (5, 128)
    # no hook is left behind: a later forward does not touch anything
    assert not model.body._forward_hooks


def test_hidden_bad_name_lists_modules() -> None:
    model = build_mlp((4,), 3)
    with pytest.raises(KeyError) as info:
        ClassificationTask(3).hidden(model, Batch(torch.zeros(1, 4), torch.zeros(1).long()),
                                     "encoder")
    msg = info.value.args[0]
    assert "no module 'encoder'" in msg
    for name in ("body", "head", "body.1"):
        assert name in msg.split("modules: ")[1].split(", ")


# ---------------------------------------------------------------------------------------------
# kl_to_teacher


def test_kl_to_teacher_by_hand() -> None:
    """Row 0: teacher logits (ln 3, 0) -> p = (3/4, 1/4); student (0, 0) -> q = (1/2, 1/2).
    KL(p || q) = 3/4 ln(3/2) + 1/4 ln(1/2) = 0.304099 - 0.173287 = 0.130812.
    Row 1: student = teacher -> 0. Mean over rows = 0.065406."""
    teacher = torch.tensor([[math.log(3.0), 0.0], [1.0, -1.0]])
    student = torch.tensor([[0.0, 0.0], [1.0, -1.0]])
    expect = (0.75 * math.log(1.5) + 0.25 * math.log(0.5)) / 2
    assert kl_to_teacher(student, teacher).item() == pytest.approx(expect, abs=1e-6)
    assert expect == pytest.approx(0.065406, abs=1e-6)


def test_kl_to_teacher_temperature() -> None:
    """T = 2: teacher logits (ln 3, 0) / 2 = (ln sqrt 3, 0) -> p = (sqrt3, 1) / (sqrt3 + 1)
    = (0.633975, 0.366025); student uniform. KL = sum p ln(2p) = 0.036341; times T^2 = 4
    -> 0.145363."""
    teacher = torch.tensor([[math.log(3.0), 0.0]])
    student = torch.zeros(1, 2)
    p = np.array([math.sqrt(3), 1.0]) / (math.sqrt(3) + 1)
    kl = float((p * np.log(2 * p)).sum())
    assert kl == pytest.approx(0.036341, abs=1e-6)
    got = kl_to_teacher(student, teacher, temperature=2.0).item()
    assert got == pytest.approx(4 * kl, abs=1e-6)
    assert got == pytest.approx(0.145363, abs=1e-6)


@pytest.mark.parametrize("temperature", [1.0, 0.5, 4.0])
def test_kl_to_teacher_matches_scipy(temperature: float) -> None:
    """scipy.stats.entropy(p, q) = sum p log(p / q) = KL(p || q), per row."""
    rng = np.random.default_rng(0)
    t = rng.normal(scale=3.0, size=(6, 5))
    s = rng.normal(scale=3.0, size=(6, 5))
    p, q = softmax(t / temperature, axis=1), softmax(s / temperature, axis=1)
    expect = np.mean([entropy(p[i], q[i]) for i in range(6)]) * temperature ** 2
    got = kl_to_teacher(torch.tensor(s), torch.tensor(t), temperature=temperature).item()
    assert got == pytest.approx(expect, rel=1e-9)


def test_kl_to_teacher_is_zero_for_shifted_logits_and_positive_otherwise() -> None:
    """Softmax ignores a constant shift per row, so student = teacher + 5 gives KL 0."""
    t = torch.tensor([[0.3, -1.2, 2.0]], dtype=torch.float64)
    assert kl_to_teacher(t + 5.0, t).item() == pytest.approx(0.0, abs=1e-12)
    assert kl_to_teacher(t.flip(1), t).item() > 0.0
