"""Probes: the only code that runs models for evaluation (DESIGN.md, "The pipeline").

Every metric is computed from what these return, once per (model, split).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from obliviate.tasks.classification.task import hidden_output
from obliviate.types import Outputs, Split


def _device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


@contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    """Eval mode and no autograd; restores each submodule's own previous mode afterwards."""
    modes = {m: m.training for m in model.modules()}  # submodules may differ (frozen BN, ...)
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for m, mode in modes.items():
            m.training = mode


def _collect(model: nn.Module, split: Split, batch_size: int,
             run: Callable[[torch.Tensor], torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if len(split) == 0:
        raise ValueError(f"split {split.name!r} is empty; there is nothing to probe")
    device = _device(model)
    outs: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    with _evaluating(model):
        for batch in split.batches(batch_size):
            batch = batch.to(device)
            out = run(batch.inputs)
            outs.append(out.detach().reshape(len(batch), -1).to("cpu", torch.float64).numpy())
            labels.append(batch.targets.detach().to("cpu", torch.int64).numpy())
    return np.concatenate(outs), np.concatenate(labels)


def probe(model: nn.Module, split: Split, batch_size: int = 512) -> Outputs:
    """The model's logits (float64) and the split's labels (int64) on every sample, in order."""
    logits, labels = _collect(model, split, batch_size, model)
    return Outputs(logits=logits, labels=labels)


def probe_features(model: nn.Module, split: Split, module: str = "body",
                   batch_size: int = 512) -> np.ndarray:
    """(n, d) float64 output of submodule ``module`` (flattened), e.g. penultimate features."""

    def run(inputs: torch.Tensor) -> torch.Tensor:
        return hidden_output(model, module, lambda: model(inputs))

    features, _ = _collect(model, split, batch_size, run)
    return features
