"""The small training loop shared by scenarios (original, oracle) and methods (FT, retrain)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import nn
from tqdm.auto import tqdm

from obliviate.types import Batch, Split, Task, TrainRecipe


def sgd(model: nn.Module, lr: float, momentum: float = 0.9, weight_decay: float = 0.0,
        ) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                           weight_decay=weight_decay)


def epoch_batches(split: Split, batch_size: int, epochs: int, seed: int,
                  ) -> Iterator[tuple[int, Batch]]:
    """(epoch, batch) over ``epochs`` shuffled passes; the order depends only on ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        for batch in split.batches(batch_size, shuffle=True, generator=gen):
            yield epoch, batch


def cosine_lr(base: float, step: int, total: int) -> float:
    """Cosine annealing from ``base`` to 0 over ``total`` steps."""
    return 0.5 * base * (1.0 + math.cos(math.pi * min(step, total) / max(total, 1)))


def train(model: nn.Module, split: Split, task: Task, recipe: TrainRecipe, *, seed: int,
          desc: str = "train", progress: bool = True) -> nn.Module:
    """Train ``model`` in place on ``split`` with ``recipe`` and return it.

    SGD with momentum and weight decay, cosine learning-rate schedule, mean cross-entropy
    (the task's per-sample loss averaged over the batch).
    """
    if len(split) == 0:
        raise ValueError(f"cannot train on an empty split ({split.name!r})")
    device = next(model.parameters()).device
    opt = sgd(model, recipe.lr, recipe.momentum, recipe.weight_decay)
    steps_per_epoch = math.ceil(len(split) / recipe.batch_size)
    total = steps_per_epoch * recipe.epochs
    model.train()
    bar = tqdm(total=recipe.epochs, desc=desc, unit="epoch", disable=not progress, leave=False)
    last_epoch = 0
    for step, (epoch, batch) in enumerate(epoch_batches(split, recipe.batch_size,
                                                        recipe.epochs, seed)):
        if epoch != last_epoch:
            bar.update(1)
            last_epoch = epoch
        for group in opt.param_groups:
            group["lr"] = cosine_lr(recipe.lr, step, total)
        loss = task.per_sample_loss(model, batch.to(device)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    bar.update(1)
    bar.close()
    model.eval()
    return model
