"""The arrays of a classifier run's feature sidecar (``obliviate.storage.sidecar`` names the keys).

One pass per (role, split subset) captures logits and penultimate features together, and one
pass per role over the probe set captures every Linear/Conv2d layer's output with forward
hooks. Language-model runs take theirs from the evaluation (``evaluate_lm``), which already
holds them.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from obliviate.scenarios import ScenarioData
from obliviate.storage import sidecar as sc
from obliviate.tasks.classification.probe import _device, _evaluating
from obliviate.types import Split

PENULTIMATE = "body"  # the classifiers' features module (models/small.py)
LAYER_BUDGET = 1_000_000  # bytes of layer activations per run, all roles
MIN_PROBE = 64
_PROBE_STREAM = 0x70726F6265  # "probe": its own random stream, apart from the split subsets


def classifier_arrays(models: Mapping[str, nn.Module], data: ScenarioData, *,
                      seed: int) -> dict[str, np.ndarray]:
    """Every classifier key of the sidecar for the roles in ``models``.

    Each split is capped at ``MAX_PER_SPLIT`` samples, one random subset (seeded by ``seed``)
    for all roles so the roles compare sample by sample.
    """
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    subsets = {}
    for s in (data.forget, data.retain, data.test):
        pos = np.arange(len(s))
        if len(s) > sc.MAX_PER_SPLIT:
            pos = np.sort(rng.choice(len(s), sc.MAX_PER_SPLIT, replace=False))
        subsets[s.name] = s.subset(pos)
        arrays[sc.ids_key(s.name)] = subsets[s.name].ids.astype(np.int64)
        arrays[sc.label_key(s.name)] = subsets[s.name].targets.numpy().astype(np.int64)
    layers = layer_sizes(models["original"], data.test.inputs[:1])
    # Conv layers are wide (the digits CNN's first two give 3,072 values a sample): fewer
    # probe samples keep the sidecar near a megabyte, never fewer than MIN_PROBE for CKA.
    # float32, every role; none when the original is an ensemble (guaranteed/adapter.py)
    per_sample = max(1, 4 * sum(layers.values()) * len(models))
    probe = probe_split(data, min(sc.MAX_PROBE, max(MIN_PROBE, LAYER_BUDGET // per_sample)))
    arrays[sc.LAYERS] = np.array(list(layers), dtype=np.str_)
    arrays[sc.PROBE_IDS] = probe.ids.astype(np.int64)
    for role, model in models.items():
        for name, split in subsets.items():
            logits, hidden = _capture(model, split, [PENULTIMATE])
            labels = split.targets.numpy().astype(np.int64)
            prob = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
            arrays[sc.pred_key(role, name)] = logits.argmax(axis=1).astype(np.int64)
            arrays[sc.confidence_key(role, name)] = (
                prob[np.arange(len(labels)), labels].astype(np.float32))
            arrays[sc.features_key(role, name)] = hidden[PENULTIMATE].astype(np.float16)
        _, acts = _capture(model, probe, list(layers))
        for k, layer in enumerate(layers):
            arrays[sc.layer_key(role, k)] = acts[layer].astype(np.float32)
    return arrays


def probe_split(data: ScenarioData, n: int = sc.MAX_PROBE) -> Split:
    """``n`` samples of forget + retain + test, drawn from the scenario's seed, in id order.

    Forget + retain is the whole training set whatever the forget set is, so every run of a
    scenario and seed (any method, any forget set) probes the same samples; a smaller ``n``
    (a wider model) takes a subset of a larger one's.
    """
    splits = (data.forget, data.retain, data.test)
    ids = np.concatenate([s.ids for s in splits]).astype(np.int64)
    inputs = torch.cat([s.inputs for s in splits])
    targets = torch.cat([s.targets for s in splits])
    order = np.argsort(ids, kind="stable")
    rng = np.random.default_rng([data.seed, _PROBE_STREAM])
    chosen = np.sort(rng.permutation(len(ids))[:n])
    pos = order[chosen]
    t = torch.from_numpy(pos)
    return Split("probe", inputs[t], targets[t], ids[pos])


def layer_sizes(model: nn.Module, one_input: torch.Tensor) -> dict[str, int]:
    """Each Linear/Conv2d module's qualified name and flattened output size per sample, in
    the order a forward pass on ``one_input`` (a batch of one) calls them."""
    called: dict[str, int] = {}
    handles = []
    for name, m in model.named_modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            def hook(_m: nn.Module, _i: object, o: torch.Tensor, name: str = name) -> None:
                called.setdefault(name, o[0].numel())
            handles.append(m.register_forward_hook(hook))
    try:
        with _evaluating(model):
            model(one_input.to(_device(model)))
    finally:
        for h in handles:
            h.remove()
    return called


def _capture(model: nn.Module, split: Split, modules: list[str], batch_size: int = 512,
             ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Logits (float64) and each module's flattened output on ``split``, in order."""
    named = dict(model.named_modules())
    missing = [m for m in modules if m not in named]
    if missing:
        raise KeyError(f"model has no module {missing[0]!r}")
    out: dict[str, list[np.ndarray]] = {m: [] for m in modules}
    batch_out: dict[str, torch.Tensor] = {}
    handles = []
    for name in modules:
        def hook(_m: nn.Module, _i: object, o: object, name: str = name) -> None:
            if name not in batch_out:  # a module called twice keeps its first output
                batch_out[name] = o[0] if isinstance(o, tuple) else o  # type: ignore[assignment]
        handles.append(named[name].register_forward_hook(hook))
    logits: list[np.ndarray] = []
    device = _device(model)
    try:
        with _evaluating(model):
            for batch in split.batches(batch_size):
                batch_out.clear()
                logits.append(model(batch.inputs.to(device)).to("cpu", torch.float64).numpy())
                for name in modules:
                    out[name].append(batch_out[name].reshape(len(batch), -1)
                                     .to("cpu", torch.float32).numpy())
    finally:
        for h in handles:
            h.remove()
    return np.concatenate(logits), {m: np.concatenate(v) for m, v in out.items()}
