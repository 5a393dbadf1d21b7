"""SSD's importance batches (``full_order``, ``importance_fraction``) on numbers worked by hand.

The model is ``Linear(1 -> 3)`` with weight 0 and bias [5, 5, 5], fed x = 0: every logit is 5,
so softmax is uniform and a sample of class c has bias gradient ``1/3 - onehot(c)``:
  class 0: g0 = [-2/3, 1/3, 1/3],  class 1: g1 = [1/3, -2/3, 1/3],  class 2: g2 = [1/3, 1/3, -2/3]
(the weight's gradient is g * x = 0: never selected, as 0 > alpha * 0 is false). A batch's
importance is the square of its mean gradient; one class alone: g0^2 = [4/9, 1/9, 1/9],
g1^2 = [1/9, 4/9, 1/9], g2^2 = [1/9, 1/9, 4/9]; a {0, 1} pair: ((g0 + g1) / 2)^2
= [-1/6, -1/6, 1/3]^2 = [1/36, 1/36, 1/9]; a {1, 2} pair: [1/3, -1/6, -1/6]^2
= [1/9, 1/36, 1/36]. D_f is class 2 throughout, batch size 2, lambda 1.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from obliviate.errors import ObliviateError
from obliviate.methods import ssd
from obliviate.passes import count_passes
from obliviate.tasks import ClassificationTask
from obliviate.types import Split, TrainRecipe, UnlearnData


def _split(name: str, labels: list[int]) -> Split:
    n = len(labels)
    return Split(name, torch.zeros(n, 1), torch.tensor(labels), np.arange(n) + 100 * len(name))


def _model() -> nn.Module:
    lin = nn.Linear(1, 3)
    with torch.no_grad():
        lin.weight.zero_()
        lin.bias.fill_(5.0)
    return lin


def _bias_after(retain: list[int], forget: list[int], **cfg: object) -> list[float]:
    data = UnlearnData(_split("forget", forget), _split("retain", retain), TrainRecipe())
    config = ssd.SSDConfig(**{"batch_size": 2, "lam": 1.0, **cfg})
    out = ssd.unlearn(_model(), data, config, task=ClassificationTask(3), seed=0).model
    return out.bias.detach().tolist()


@pytest.mark.parametrize(("order", "bias"), [
    ("data", [2.5, 2.5, 2.5]), ("class_sorted", [5.0, 5.0, 2.5]),
    ("class_pure", [5.0, 5.0, 2.5])])
def test_class_batches_confine_dampening_to_the_forget_class(order: str,
                                                             bias: list[float]) -> None:
    """D_r = classes [0, 1, 0, 1], D_f = [2, 2], alpha 1.5. imp_f = g2^2 = [1/9, 1/9, 4/9].

    data: batches {0,1} {0,1} {2,2}: imp_D = (2 [1/36, 1/36, 1/9] + [1/9, 1/9, 4/9]) / 3
      = [1/18, 1/18, 2/9]; imp_f > 1.5 imp_D everywhere (1/9 > 1/12, 4/9 > 1/3), beta =
      imp_D / imp_f = [1/2, 1/2, 1/2]: every bias 5 -> 2.5.
    class_sorted / class_pure: batches {0,0} {1,1} {2,2}: imp_D = (g0^2 + g1^2 + g2^2) / 3
      = [2/9, 2/9, 2/9]; only entry 2 is selected (4/9 > 1/3; 1/9 < 1/3), beta = 1/2: 2.5.
    """
    assert _bias_after([0, 1, 0, 1], [2, 2], alpha=1.5, full_order=order) == pytest.approx(bias)


@pytest.mark.parametrize(("order", "bias"), [
    ("class_sorted", [5.0, 5.0, 5 * 7 / 16]), ("class_pure", [5.0, 5.0, 2.5])])
def test_class_sorted_straddles_a_class_boundary_and_class_pure_does_not(
        order: str, bias: list[float]) -> None:
    """D_r = classes [0, 1, 0], D_f = [2, 2], alpha 1.5; imp_f = [1/9, 1/9, 4/9].

    class_sorted (the reference's order): D_r sorted = [0, 0, 1], then D_f: batches {0,0}
      {1,2} {2}: imp_D = ([4/9, 1/9, 1/9] + [1/9, 1/36, 1/36] + [1/9, 1/9, 4/9]) / 3
      = [2/9, 1/12, 7/36]. Entry 2: 4/9 > 1.5 * 7/36 = 7/24, beta = (7/36) / (4/9) = 7/16;
      entries 0, 1: 1/9 < 1/3 and 1/9 < 1/8, unchanged.
    class_pure: batches {0,0} {1} {2,2}: imp_D = [2/9, 2/9, 2/9] as above: entry 2 -> 2.5.
    """
    assert _bias_after([0, 1, 0], [2, 2], alpha=1.5, full_order=order) == pytest.approx(bias)


def test_class_pure_groups_forget_samples_with_their_class() -> None:
    """Random-style forgetting: D_r = [0, 1, 1], D_f = [0, 2], alpha 0.2, lambda 0.25.

    imp_f: one batch {0, 2}: ((g0 + g2) / 2)^2 = [-1/6, 1/3, -1/6]^2 = [1/36, 1/9, 1/36].
    D's class batches {0 (D_r), 0 (D_f)} {1, 1} {2}: imp_D = (g0^2 + g1^2 + g2^2) / 3
    = [2/9, 2/9, 2/9]; 0.2 imp_D = 2/45 ~ 0.044: only entry 1 is selected (1/9; 1/36 is
    not), beta = 0.25 (2/9) / (1/9) = 1/2: [5, 2.5, 5]. Reusing D_f's own batch {0, 2} as D's
    (right only when D_f is a class D_r lacks) would give imp_D = [7/36, 2/9, 1/12] and also
    select entry 2 (1/36 > 0.2 / 12), beta 0.25 (1/12) / (1/36) = 3/4: 3.75.
    """
    assert _bias_after([0, 1, 1], [0, 2], alpha=0.2, lam=0.25,
                       full_order="class_pure") == pytest.approx([5.0, 2.5, 5.0])


@pytest.mark.parametrize("fraction", [1.0, 0.5, 0.25])
def test_importance_fraction_samples_forget_and_retain_alike(fraction: float) -> None:
    """D_r = [0, 0, 0, 0], D_f = [2, 2, 2, 2], class_pure, alpha 1.5 (identical samples in a
    class, so which ones are drawn does not matter; how many does).

    Fraction 1: batches {0,0} {0,0} {2,2} {2,2}; 0.5: {0,0} {2,2}; 0.25: {0} {2}. D_f keeps
    half the batches in each: imp_D = (g0^2 + g2^2) / 2 = [5/18, 1/9, 5/18], imp_f = g2^2.
    Entry 2: 4/9 > 1.5 * 5/18 = 5/12, beta = (5/18) / (4/9) = 5/8: 5 -> 3.125; entries 0, 1
    (1/9 against 5/12 and 1/6) unchanged. Sampling D_r alone at 0.5 would give {0,0} {2,2}
    {2,2}: imp_D = [2/9, 1/9, 1/3], and 4/9 > 1/2 fails: nothing dampened.
    """
    assert _bias_after([0, 0, 0, 0], [2, 2, 2, 2], alpha=1.5, full_order="class_pure",
                       importance_fraction=fraction) == pytest.approx([5.0, 5.0, 3.125])


@pytest.mark.parametrize(("order", "fraction", "samples"), [
    ("data", 1.0, 4 + 8), ("class_pure", 1.0, 4 + 8), ("class_pure", 0.5, 2 + 4),
    ("class_sorted", 1.0, 4 + 12), ("shuffled", 0.25, 1 + 3)])
def test_importance_passes_cost(order: str, fraction: float, samples: int) -> None:
    """|D_f| = 4 (class 2), |D_r| = 8 (classes 0, 1). "data" reuses D_f's batches as D's
    tail, and "class_pure" as D's class-2 batches (D_r has no class 2): 4 + 8 samples; the
    other orders pass D_f again inside D: 4 + 12; a fraction f passes round(f n) of each."""
    data = UnlearnData(_split("forget", [2] * 4), _split("retain", [0, 1] * 4), TrainRecipe())
    model = _model()
    with count_passes(model) as passes:
        ssd.unlearn(model, data, ssd.SSDConfig(full_order=order, importance_fraction=fraction,
                                               batch_size=2), task=ClassificationTask(3), seed=3)
    assert (passes.forward, passes.backward) == (samples, samples)


def test_even_batches_never_leave_a_small_tail() -> None:
    split = _split("retain", [0, 1, 2, 3, 4])
    sizes = [len(b) for b in ssd.even_batches(split, 4)]
    assert sizes == [3, 2]  # not [4, 1]
    rows = torch.cat([b.targets for b in ssd.even_batches(split, 4)]).tolist()
    assert rows == [0, 1, 2, 3, 4]


def test_shuffled_is_a_seeded_permutation_of_d() -> None:
    retain, forget = _split("retain", [0, 1, 0, 1, 0, 1]), _split("forget", [2, 2])
    runs = [ssd.full_batches(retain, forget, "shuffled", 3, torch.Generator().manual_seed(s))
            for s in (7, 7, 8)]
    labels = [[b.targets.tolist() for b in r] for r in runs]
    assert labels[0] == labels[1]
    assert sorted(sum(labels[0], [])) == [0, 0, 0, 1, 1, 1, 2, 2]
    # Seed 8 orders D otherwise (of the 8!/(3!3!2!) = 560 label orders, one is seed 7's).
    assert labels[2] != labels[0]


@pytest.mark.parametrize("order", ssd.FULL_ORDERS)
def test_every_order_is_deterministic_for_a_seed(order: str) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    g = torch.Generator().manual_seed(1)
    data = UnlearnData(Split("forget", torch.randn(6, 4, generator=g), torch.full((6,), 2),
                             np.arange(6)),
                       Split("retain", torch.randn(20, 4, generator=g),
                             torch.randint(0, 2, (20,), generator=g), np.arange(6, 26)),
                       TrainRecipe())
    cfg = ssd.SSDConfig(alpha=1.0, full_order=order, importance_fraction=0.5, batch_size=4)
    a, b = (ssd.unlearn(copy.deepcopy(model), data, cfg, task=ClassificationTask(3),
                        seed=5).model for _ in range(2))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert any(not torch.equal(p, q) for p, q in zip(a.parameters(), model.parameters(),
                                                     strict=True))


@pytest.mark.parametrize(("kwargs", "named"), [
    ({"full_order": "sorted"}, "full_order='sorted'; valid values: data, class_sorted"),
    ({"importance_fraction": 0.0}, "importance_fraction=0.0"),
    ({"importance_fraction": 1.5}, "importance_fraction=1.5"),
])
def test_config_rejects_bad_values(kwargs: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        ssd.SSDConfig(**kwargs)


def test_class_orders_need_class_labels() -> None:
    tokens = Split("retain", torch.zeros(3, 5, dtype=torch.long), torch.zeros(3, 5,
                   dtype=torch.long), np.arange(3), torch.ones(3, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="full_order='class_pure' needs one class label"):
        ssd.full_batches(tokens, tokens, "class_pure", 2, torch.Generator())


def test_shuffled_pads_token_splits_of_different_widths() -> None:
    """Token splits pad to their own longest row; D_f 3 wide and D_r 5 wide become one 5-wide
    split, the 2 added columns masked (0) and unlabelled (-100)."""
    def tok(name: str, n: int, width: int) -> Split:
        return Split(name, torch.ones(n, width, dtype=torch.long), torch.ones(n, width,
                     dtype=torch.long), np.arange(n), torch.ones(n, width, dtype=torch.long))
    batches = ssd.full_batches(tok("retain", 2, 5), tok("forget", 1, 3), "shuffled", 3,
                               torch.Generator().manual_seed(0))
    (batch,) = batches
    narrow = int((batch.mask.sum(1) == 3).nonzero().item())
    assert batch.targets[narrow].tolist() == [1, 1, 1, -100, -100]
    assert batch.mask[narrow].tolist() == [1, 1, 1, 0, 0]


def test_modules_dampen_only_their_parameters_and_as_full_ssd_would() -> None:
    """A weight's importance is its own gradient, whatever else is scored: with modules=("2",)
    layer 2 ends exactly as under full SSD, layer 0 stays bit-identical and trainable."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    g = torch.Generator().manual_seed(2)
    data = UnlearnData(Split("forget", torch.randn(6, 4, generator=g), torch.full((6,), 2),
                             np.arange(6)),
                       Split("retain", torch.randn(20, 4, generator=g),
                             torch.randint(0, 2, (20,), generator=g), np.arange(6, 26)),
                       TrainRecipe())
    task = ClassificationTask(3)
    full, part = (ssd.unlearn(copy.deepcopy(model), data, ssd.SSDConfig(
        alpha=1.0, modules=mods), task=task, seed=0).model for mods in ((), ("2",)))
    before, f, p = (m.state_dict() for m in (model, full, part))
    assert not torch.equal(f["2.weight"], before["2.weight"])  # SSD moved layer 2 at all
    assert not torch.equal(f["0.weight"], before["0.weight"])  # and layer 0
    for name in ("weight", "bias"):
        assert torch.equal(p[f"2.{name}"], f[f"2.{name}"])
        assert torch.equal(p[f"0.{name}"], before[f"0.{name}"])
    assert all(p.requires_grad for p in part.parameters())


def test_unknown_module_is_named() -> None:
    data = UnlearnData(_split("forget", [2]), _split("retain", [0]), TrainRecipe())
    with pytest.raises(ObliviateError, match=r"modules \['fc'\] are not modules of the model"):
        ssd.unlearn(nn.Sequential(nn.Linear(1, 3)), data, ssd.SSDConfig(modules=("fc",)),
                    task=ClassificationTask(3), seed=0)
