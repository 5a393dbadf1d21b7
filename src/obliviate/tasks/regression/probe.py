"""Probes: the only code that runs regressors for evaluation (DESIGN.md, "The pipeline").

Predictions come back in the target's own units (the scenario's standardisation undone), so
every error a record holds reads in the units the user's data has.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from obliviate.types import Split


def predict(model: nn.Module, split: Split, mean: float, std: float,
            batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """(predictions, true targets) of ``split`` in target units, float64, in order."""
    if len(split) == 0:
        raise ValueError(f"split {split.name!r} is empty; there is nothing to probe")
    device = next(model.parameters()).device
    modes = {m: m.training for m in model.modules()}
    model.eval()
    preds = []
    try:
        with torch.no_grad():
            for batch in split.batches(batch_size):
                out = model(batch.inputs.to(device))
                preds.append(out.reshape(len(batch)).to("cpu", torch.float64).numpy())
    finally:
        for m, mode in modes.items():
            m.training = mode
    z = np.concatenate(preds)
    y = split.targets.to(torch.float64).numpy()
    return mean + std * z, mean + std * y
