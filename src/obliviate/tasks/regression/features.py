"""The arrays of a regression run's feature sidecar (``obliviate.storage.sidecar`` names the
keys). The classifier keys, read in regression terms:

``label/{s}``            float32 true targets (target units)
``{r}/{s}/pred``         float32 predictions (target units)
``{r}/{s}/confidence``   float32 exp(-z^2 / 2), z the error in training-target standard
                         deviations: the Gaussian likelihood of the true target relative to
                         its peak, in (0, 1], the regression counterpart of the probability of
                         the true label. The dashboard and the report score membership with it
                         (higher = member); it falls as the attack's loss feature rises, so
                         their ROC curves are the loss attack's.
``{r}/{s}/features``     float16 penultimate features (``body``)
``layers``, ``probe/ids``, ``{r}/layer/{k}``   as for classifiers (Linear outputs on a fixed
                         probe set, for CKA)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from obliviate.storage import sidecar as sc
from obliviate.types import Split

if TYPE_CHECKING:
    from obliviate.tasks.regression.scenario import RegressionData

PENULTIMATE = "body"
_PROBE_STREAM = 0x70726F6265  # "probe": a random stream apart from the split subsets


def regression_arrays(models: Mapping[str, nn.Module], data: RegressionData, *,
                      seed: int) -> dict[str, np.ndarray]:
    """Every key above for the roles in ``models``; splits capped at ``MAX_PER_SPLIT``
    samples, one seeded subset for all roles so they compare sample by sample."""
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    subsets = {}
    for s in (data.forget, data.retain, data.test):
        pos = np.arange(len(s))
        if len(s) > sc.MAX_PER_SPLIT:
            pos = np.sort(rng.choice(len(s), sc.MAX_PER_SPLIT, replace=False))
        subsets[s.name] = s.subset(pos)
        arrays[sc.ids_key(s.name)] = subsets[s.name].ids.astype(np.int64)
        y = data.y_mean + data.y_std * subsets[s.name].targets.to(torch.float64).numpy()
        arrays[sc.label_key(s.name)] = y.astype(np.float32)
    probe = _probe_split(data)
    layers = [n for n, m in models["original"].named_modules() if isinstance(m, nn.Linear)]
    arrays[sc.LAYERS] = np.array(layers, dtype=np.str_)
    arrays[sc.PROBE_IDS] = probe.ids.astype(np.int64)
    for role, model in models.items():
        for name, split in subsets.items():
            out, hidden = _capture(model, split, [PENULTIMATE])
            p = data.y_mean + data.y_std * out
            z = (out - split.targets.to(torch.float64).numpy())
            arrays[sc.pred_key(role, name)] = p.astype(np.float32)
            arrays[sc.confidence_key(role, name)] = np.exp(-0.5 * z ** 2).astype(np.float32)
            arrays[sc.features_key(role, name)] = hidden[PENULTIMATE].astype(np.float16)
        _, acts = _capture(model, probe, layers)
        for k, layer in enumerate(layers):
            arrays[sc.layer_key(role, k)] = acts[layer].astype(np.float32)
    return arrays


def _probe_split(data: RegressionData, n: int = sc.MAX_PROBE) -> Split:
    """``n`` samples of forget + retain + test drawn from the scenario's seed, in id order:
    the same samples for every run of a scenario and seed, whatever its forget set."""
    splits = (data.forget, data.retain, data.test)
    ids = np.concatenate([s.ids for s in splits]).astype(np.int64)
    inputs = torch.cat([s.inputs for s in splits])
    targets = torch.cat([s.targets for s in splits])
    order = np.argsort(ids, kind="stable")
    chosen = np.sort(np.random.default_rng([data.seed, _PROBE_STREAM]).permutation(
        len(ids))[:n])
    pos = torch.from_numpy(order[chosen])
    return Split("probe", inputs[pos], targets[pos], ids[order[chosen]])


def _capture(model: nn.Module, split: Split, modules: list[str],
             ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The model's (standardised) output and each module's flattened output on ``split``."""
    named = dict(model.named_modules())
    got: dict[str, torch.Tensor] = {}
    handles = [named[n].register_forward_hook(
        lambda _m, _i, o, n=n: got.__setitem__(n, o)) for n in modules]
    device = next(model.parameters()).device
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(split.inputs.to(device)).reshape(len(split)).to("cpu", torch.float64)
    finally:
        for h in handles:
            h.remove()
        model.train(was)
    return out.numpy(), {n: got[n].reshape(len(split), -1).to("cpu", torch.float32).numpy()
                         for n in modules}
