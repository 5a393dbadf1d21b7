"""SalUn: random-label unlearning restricted to the salient weights.

Fan et al., "SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency in Both
Image Classification and Generation", ICLR 2024. The saliency map is the magnitude of the
gradient of the forget loss at the original weights, |grad_theta l_f(theta_o; D_f)| (Eq. 5),
summed over forget mini-batches of the mean loss; the mask keeps the top ``threshold``
fraction of all weights, one hard threshold across every parameter tensor
(OPTML-Group/Unlearn-Saliency ``Classification/generate_mask.py``, verified). Then, each
epoch, random-label steps on the forget set and cross-entropy steps on the retain set
(``unlearn/RL.py``, its CIFAR-10 branch, verified) update only the masked weights. Random
labels are the task's alternative targets (another class; the reference draws any class).

The reference multiplies gradients by the mask, but SGD's weight decay and momentum still
move unmasked weights. Here every unmasked weight is written back from its original value
after each optimizer step, so it stays bit-identical whatever the optimizer does.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import nn

from obliviate.methods.common import check_fraction, check_positive, device_of, sgd
from obliviate.tasks.classification.training import epoch_batches
from obliviate.types import Split, Task, UnlearnData, UnlearnResult


@dataclass(frozen=True)
class SalUnConfig:
    threshold: float = 0.5  # fraction of weights kept salient; paper's default sparsity 50%
    epochs: int = 10  # Classification/README.md: SalUn --unlearn_epochs 10
    lr: float = 0.1  # Classification/README.md: SalUn --unlearn_lr 0.1 (CIFAR-10, 10% random)
    batch_size: int = 256  # arg_parser.py: --batch_size default 256
    momentum: float = 0.9  # arg_parser.py: --momentum default 0.9
    weight_decay: float = 5e-4  # arg_parser.py: --weight_decay default 5e-4

    def __post_init__(self) -> None:
        check_positive("SalUnConfig", threshold=self.threshold, epochs=self.epochs,
                       lr=self.lr, batch_size=self.batch_size)
        check_fraction("SalUnConfig", threshold=self.threshold)
        if not 0 <= self.momentum < 1 or not self.weight_decay >= 0:
            raise ValueError(f"SalUnConfig: momentum={self.momentum} must be in [0, 1) and "
                             f"weight_decay={self.weight_decay} >= 0")


def saliency_mask(saliency: list[torch.Tensor], fraction: float) -> list[torch.Tensor]:
    """Boolean masks marking the ``int(fraction * n)`` largest entries over all tensors."""
    flat = torch.cat([s.flatten() for s in saliency])
    keep = torch.zeros(flat.numel(), dtype=torch.bool)
    keep[torch.topk(flat, int(fraction * flat.numel()), sorted=False).indices] = True
    return [m.view_as(s) for m, s in zip(keep.split([s.numel() for s in saliency]), saliency,
                                         strict=True)]


def forget_saliency(model: nn.Module, forget: Split, task: Task, batch_size: int,
                    ) -> list[torch.Tensor]:
    """|sum over forget mini-batches of the gradient of the batch's mean loss|, one tensor
    per trainable parameter, at the current weights (generate_mask.py; eval mode as there)."""
    dev = device_of(model)
    params = [p for p in model.parameters() if p.requires_grad]
    model.eval()
    grads = [torch.zeros_like(p) for p in params]
    for batch in forget.batches(batch_size):
        loss = task.per_sample_loss(model, batch.to(dev)).mean()
        for g, d in zip(grads, torch.autograd.grad(loss, params, allow_unused=True), strict=True):
            if d is not None:
                g += d
    return [g.abs() for g in grads]  # the sign of ascent vs descent does not matter here


def unlearn(model: nn.Module, data: UnlearnData, cfg: SalUnConfig, *, task: Task,
            seed: int) -> UnlearnResult:
    dev = device_of(model)
    params = [p for p in model.parameters() if p.requires_grad]
    saliency = forget_saliency(model, data.forget, task, cfg.batch_size)
    masks = [m.to(dev) for m in saliency_mask([s.cpu() for s in saliency], cfg.threshold)]
    original = [p.detach().clone() for p in params]
    opt = sgd(model, cfg.lr, cfg.momentum, cfg.weight_decay)
    labels = torch.Generator().manual_seed(seed)
    forget_epochs = itertools.groupby(epoch_batches(data.forget, cfg.batch_size, cfg.epochs,
                                                    seed), key=lambda t: t[0])
    retain_epochs = itertools.groupby(epoch_batches(data.retain, cfg.batch_size, cfg.epochs,
                                                    seed + 1), key=lambda t: t[0])
    model.train()
    for _ in range(cfg.epochs):
        # RL.py (CIFAR-10): a pass over D_f with random labels, then a pass over D_r.
        steps = itertools.chain(
            ((task.alternative_targets(model, b, labels)) for _, b in next(forget_epochs)[1]),
            (b for _, b in next(retain_epochs)[1]))
        for batch in steps:
            loss = task.per_sample_loss(model, batch.to(dev)).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            for p, m in zip(params, masks, strict=True):
                if p.grad is not None:
                    p.grad.mul_(m)  # theta_u = theta_o + m_s * delta_theta (Eq. 6)
            opt.step()
            with torch.no_grad():  # undo what weight decay and momentum did off the mask
                for p, m, p0 in zip(params, masks, original, strict=True):
                    p.copy_(torch.where(m, p, p0))
    model.eval()
    kept = sum(int(m.sum()) for m in masks) / max(sum(m.numel() for m in masks), 1)
    return UnlearnResult(model, {"mask_fraction": kept})
