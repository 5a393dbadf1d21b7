"""Selective Synaptic Dampening (SSD): shrink the weights the forget set relies on most.

Foster et al., "Fast Machine Unlearning Without Retraining Through Selective Synaptic
Dampening", AAAI 2024. The importance of a weight is the diagonal of the Fisher information,
approximated as the mean over mini-batches of the squared gradient of the batch's mean loss;
it is computed on the full training data D and on the forget set D_f. A weight whose forget
importance exceeds ``alpha`` times its importance on D is multiplied by
``beta = min(lambda * imp_D / imp_f, 1)`` (the paper's Eq. 3-4). No training loop: one
forward-backward pass over D_f and one over D.
Reference code: if-loops/selective-synaptic-dampening, ``ssd.py::ParameterPerturber``
(``calc_importance``, ``modify_weight``), ``forget_full_class_main.py`` and
``forget_random_main.py`` (verified).

Squaring a batch's mean gradient makes the estimate depend on which samples share a batch:
``E[(mean g)^2] = (E_batch g)^2 + Var(g) / B``. A trained model's mean gradient over all of D
is near zero, but over one class it is not, so class-pure batches of D give a much larger
``imp_D`` than mixed ones; D_f's batches are class-pure whenever a class is forgotten.
``full_order`` says how D is batched, and with it how many weights a given ``alpha`` selects.
When D_f's batches are a share s of D's, ``imp_D >= s * imp_f``: beta never falls below
``lambda * s`` and nothing is selected once ``alpha >= 1 / s`` (CIFAR-100: s = 0.01, alpha
10; a class of digits: s ~ 0.1, so alpha 10 selects nothing and alpha 8-9 sits at the edge).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from obliviate.errors import ObliviateError
from obliviate.methods.common import check_positive, device_of
from obliviate.types import Batch, Split, Task, UnlearnData, UnlearnResult

FULL_ORDERS = ("data", "class_sorted", "class_pure", "shuffled")


@dataclass(frozen=True)
class SSDConfig:
    alpha: float = 10.0  # selection weighting; paper Sec. 5 and main script (ResNet18, CIFAR)
    lam: float = 1.0  # dampening constant lambda; paper Sec. 5 and main script
    batch_size: int = 64  # main script: argparse "-b" default 64, used for every loader
    # How the importance pass over D is batched; no loader of the reference shuffles D.
    # "data": D_r in data order, then D_f, unshuffled: the reference's forget_random_main.py
    #   (its D_r comes from random_split, so batches mix classes). obliviate's behaviour before
    #   this field existed.
    # "class_sorted": D_r grouped by class (stable, classes ascending), then D_f, unshuffled:
    #   the reference's forget_full_class_main.py and forget_subclass_main.py, whose
    #   build_retain_forget_sets builds D_r class by class. Batches hold one class, as D_f's
    #   do, except those that straddle a class boundary: one per class on CIFAR (500 images a
    #   class, batch 64), but most of them once a class is not many batches long (digits:
    #   ~125 a class), so a larger batch or a sample of D (importance_fraction) mixes classes
    #   again.
    # "class_pure": every batch of D holds one class (D_r and D_f together, classes
    #   ascending, each class cut into ceil(n / batch_size) batches of near-equal size, and
    #   D_f's own pass cut alike): what class_sorted does on CIFAR, kept at any batch size and
    #   importance_fraction. Classification targets only, as class_sorted.
    # "shuffled": D and D_f both reshuffled (a generator seeded from the run seed), as
    #   supreme-unlearning 0.1.5 does (its loaders have shuffle=True). Mixed batches shrink
    #   imp_D, so the same alpha selects more weights and beta dampens them harder.
    full_order: str = "data"
    # Fraction of D_f and of D_r the importance passes see (at least one sample of each),
    # drawn without replacement by a generator seeded from the run seed and kept in their
    # order; the same sample of D_f serves imp_f and its part of D. 1.0 = all of D, as the
    # paper and the reference. Less is cheaper but not safe: on digits class:3 (class_pure,
    # alpha 6) half or a third of D forgets fully on some draws and not at all on others
    # (seeds 0 and 3, six draws each). Sampling D_f with D_r keeps D_f's share of D's
    # batches, which bounds dampening (imp_D >= that share x imp_f when D_f's batches are
    # D's), and batching D_f alike in both passes keeps the Var(g)/B terms of imp_f and imp_D
    # comparable; sampling D_r alone, or batching D_f's part of D apart from its own pass,
    # moves that bound and the set of weights a given alpha selects.
    importance_fraction: float = 1.0
    # Submodules whose parameters SSD scores and dampens; () = every parameter, as the paper
    # and the reference. Naming the last layers skips the backward pass through the others,
    # which stay untouched (digits' CNN: "head" alone takes ~60% of the full time).
    modules: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_positive("SSDConfig", alpha=self.alpha, lam=self.lam, batch_size=self.batch_size,
                       importance_fraction=self.importance_fraction)
        if self.full_order not in FULL_ORDERS:
            raise ValueError(f"SSDConfig: full_order={self.full_order!r}; valid values: "
                             f"{', '.join(FULL_ORDERS)}")
        if self.importance_fraction > 1:
            raise ValueError(f"SSDConfig: importance_fraction={self.importance_fraction} must "
                             "be in (0, 1]")


def dampen(param: torch.Tensor, imp_full: torch.Tensor, imp_forget: torch.Tensor,
           alpha: float, lam: float) -> torch.Tensor:
    """SSD's update of one parameter tensor (Eq. 3-4), returned as a new tensor.

    Worked example, alpha = 10, lam = 1:
    param = [1, 2, -4, 3], imp_full = [1, 0.1, 0.3, 0], imp_forget = [5, 2, 4, 0];
    alpha * imp_full = [10, 1, 3, 0], so entries 1 and 2 are selected (2 > 1, 4 > 3; 0 > 0 is
    not); beta = [0.1/2, 0.3/4] = [0.05, 0.075]; result = [1, 0.1, -0.3, 3].
    With lam > alpha, beta can exceed 1 and is clipped to 1, so no weight ever grows.
    """
    selected = imp_forget > alpha * imp_full
    # imp_forget > 0 wherever selected; elsewhere divide by 1 to avoid 0/0.
    beta = (lam * imp_full / torch.where(selected, imp_forget, torch.ones_like(imp_forget)))
    return torch.where(selected, param * beta.clamp(max=1.0), param)


def unlearn(model: nn.Module, data: UnlearnData, cfg: SSDConfig, *, task: Task,
            seed: int) -> UnlearnResult:
    params = _scored(model, cfg.modules)
    model.eval()  # the reference computes importances in eval mode
    gen = torch.Generator().manual_seed(seed)  # "shuffled" and importance_fraction < 1 only
    forget = _sample(data.forget, cfg.importance_fraction, gen)
    retain = _sample(data.retain, cfg.importance_fraction, gen)
    scored = {id(p) for p in params}
    frozen = [p for p in model.parameters() if p.requires_grad and id(p) not in scored]
    for p in frozen:  # no autograd graph through layers that are not scored
        p.requires_grad_(False)
    try:
        sq_forget, n_forget, sq_full, n_full = _importances(model, params, forget, retain,
                                                            cfg, task, gen)
    finally:
        for p in frozen:
            p.requires_grad_(True)
    dampened, total = 0, 0
    with torch.no_grad():
        for p, f, d in zip(params, sq_forget, sq_full, strict=True):
            new = dampen(p, d / n_full, f / n_forget, cfg.alpha, cfg.lam)
            dampened += int((new != p).sum())
            total += p.numel()
            p.copy_(new)
    return UnlearnResult(model, {"dampened_fraction": dampened / max(total, 1),
                                 "full_batches": float(n_full)})


def _importances(model: nn.Module, params: list[nn.Parameter], forget: Split, retain: Split,
                 cfg: SSDConfig, task: Task, gen: torch.Generator,
                 ) -> tuple[list[torch.Tensor], int, list[torch.Tensor], int]:
    """Summed squared batch gradients and batch counts over D_f and over D."""
    pure = cfg.full_order == "class_pure"
    own = (even_batches(forget, cfg.batch_size) if pure else
           forget.batches(cfg.batch_size, shuffle=cfg.full_order == "shuffled", generator=gen))
    sq_forget, n_forget = _squared_grads(model, params, own, task)
    # D_f's batches are D's too, so reuse them: in data order they are D's tail (batching the
    # two splits apart changes only the reference's one batch across their boundary); in
    # class_pure, when D_f is one class that D_r lacks (class forgetting), its class batches.
    if cfg.full_order == "data" or pure and _own_class(forget, retain):
        rest = (retain.batches(cfg.batch_size) if not pure else
                class_batches(retain, cfg.batch_size))
        sq_retain, n_retain = _squared_grads(model, params, rest, task)
        return (sq_forget, n_forget, [f + r for f, r in zip(sq_forget, sq_retain, strict=True)],
                n_forget + n_retain)
    sq_full, n_full = _squared_grads(
        model, params, full_batches(retain, forget, cfg.full_order, cfg.batch_size, gen), task)
    return sq_forget, n_forget, sq_full, n_full


def _own_class(forget: Split, retain: Split) -> bool:
    if forget.targets.ndim != 1 or retain.targets.ndim != 1 or len(forget) == 0:
        return False
    classes = forget.targets.unique()
    return len(classes) == 1 and not bool((retain.targets == classes[0]).any())


def _scored(model: nn.Module, names: tuple[str, ...]) -> list[nn.Parameter]:
    if not names:
        return [p for p in model.parameters() if p.requires_grad]
    modules = dict(model.named_modules())
    missing = [m for m in names if m not in modules]
    if missing:
        raise ObliviateError(f"SSD: modules {missing} are not modules of the model; modules: "
                             f"{', '.join(n for n in modules if n)}")
    chosen = {id(p) for m in names for p in modules[m].parameters()}
    return [p for p in model.parameters() if p.requires_grad and id(p) in chosen]


def full_batches(retain: Split, forget: Split, order: str, batch_size: int,
                 gen: torch.Generator) -> list[Batch]:
    """The batches of the importance pass over D = ``retain`` + ``forget`` in ``order``
    (``SSDConfig.full_order``; "data" batches the two splits apart, in their order)."""
    if order == "data":
        return [*retain.batches(batch_size), *forget.batches(batch_size)]
    if order == "shuffled":
        return list(_concat(retain, forget).batches(batch_size, shuffle=True, generator=gen))
    if retain.targets.ndim != 1:
        raise ValueError(f"SSD full_order={order!r} needs one class label per sample; got "
                         f"targets of shape {tuple(retain.targets.shape)}")
    if order == "class_sorted":
        by_class = np.argsort(retain.targets.cpu().numpy(), kind="stable")
        return list(_concat(retain.subset(by_class), forget).batches(batch_size))
    return class_batches(_concat(retain, forget), batch_size)


def class_batches(split: Split, batch_size: int) -> list[Batch]:
    """``split``'s classes in ascending order, each cut by ``even_batches``."""
    labels = split.targets.cpu().numpy()
    return [b for c in np.unique(labels)
            for b in even_batches(split.subset(np.nonzero(labels == c)[0]), batch_size)]


def even_batches(split: Split, batch_size: int) -> list[Batch]:
    """``split`` in order, cut into ceil(n / batch_size) batches of near-equal size: a trailing
    batch of a few samples would weigh their squared gradients like a whole batch's (the
    Var(g) / B term with a small B)."""
    parts = np.array_split(np.arange(len(split)), -(-len(split) // batch_size))
    return [next(split.subset(p).batches(len(p))) for p in parts]


def _sample(split: Split, fraction: float, gen: torch.Generator) -> Split:
    if fraction == 1.0:
        return split
    k = max(1, int(round(fraction * len(split))))
    keep = torch.randperm(len(split), generator=gen)[:k].sort().values
    return split.subset(keep.numpy())


def _concat(a: Split, b: Split) -> Split:
    """D_r and D_f as one split. Token splits pad to their own longest row, so the narrower
    is right-padded: mask 0 and label -100, which no loss counts."""
    if a.mask is not None and b.mask is not None:
        width = max(a.inputs.shape[1], b.inputs.shape[1])
        a, b = (Split(s.name, _pad(s.inputs, width, 0), _pad(s.targets, width, -100), s.ids,
                      _pad(s.mask, width, 0)) for s in (a, b))  # type: ignore[arg-type]
    mask = None if a.mask is None or b.mask is None else torch.cat([a.mask, b.mask])
    return Split("full", torch.cat([a.inputs, b.inputs]), torch.cat([a.targets, b.targets]),
                 np.concatenate([a.ids, b.ids]), mask)


def _pad(t: torch.Tensor, width: int, value: int) -> torch.Tensor:
    return torch.nn.functional.pad(t, (0, width - t.shape[1]), value=value)


def _squared_grads(model: nn.Module, params: list[nn.Parameter], batches: Iterable[Batch],
                   task: Task) -> tuple[list[torch.Tensor], int]:
    """Sum over mini-batches of the squared gradient of each batch's mean loss, and the
    number of batches (``calc_importance`` in the reference divides the sum by it)."""
    dev = device_of(model)
    sums = [torch.zeros_like(p) for p in params]
    n = 0
    for batch in batches:
        loss = task.per_sample_loss(model, batch.to(dev)).mean()
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        for s, g in zip(sums, grads, strict=True):
            if g is not None:
                s += g.pow(2)
        n += 1
    return sums, n
