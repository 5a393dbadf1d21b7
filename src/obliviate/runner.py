"""The only place that wires scenario + method + metrics into a RunRecord (DESIGN.md)."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import hashlib
import logging
import os
import platform
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

import obliviate
from obliviate import runner_lm
from obliviate.attacks import ATTACKS, Target, parse_attacks, run_attacks
from obliviate.config import build_config, config_dict
from obliviate.errors import DivergedError, ObliviateError
from obliviate.evaluate import evaluate
from obliviate.features import classifier_arrays
from obliviate.methods import MethodSpec, get_method
from obliviate.models import build_model
from obliviate.models.lm import add_lora
from obliviate.passes import count_passes
from obliviate.presets import preset_for
from obliviate.records import writable_dir, write_record
from obliviate.scenarios import scenario_for
from obliviate.scenarios.people import PeopleData
from obliviate.sidecar import file_name as sidecar_file
from obliviate.sidecar import write_sidecar
from obliviate.training import train
from obliviate.types import UnlearnData
from obliviate.workspace import Workspace

log = logging.getLogger("obliviate")


@dataclass(frozen=True)
class RunSpec:
    """What to run. ``data`` (a user file) replaces ``scenario`` when given."""

    method: str
    forget: str
    scenario: str = "digits"
    seed: int = 0
    overrides: Mapping[str, object] = field(default_factory=dict)
    model: str | None = None
    data: str | None = None
    label: str | None = None
    split_column: str | None = None  # a CSV column of train/test/holdout (scenarios.split)
    test: str | None = None  # a file of the source rows that form the test split
    use_preset: bool = True
    lora: bool = False  # language models: unlearn through a LoRA adapter, merged afterwards
    attacks: tuple[str, ...] = ()  # attacks/ to add to the evaluation ("all": every one)
    attack_overrides: Mapping[str, Mapping[str, object]] = field(default_factory=dict)


@dataclass
class Trained:
    """The original and oracle models of one built scenario, with their training costs."""

    data: Any  # ScenarioData or PeopleData
    original: nn.Module
    oracle: nn.Module
    meta: dict[str, dict[str, Any]]


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_scenario(spec: RunSpec) -> Any:
    """The classifier or people scenario a spec names (``--data`` replaces ``--scenario``)."""
    return scenario_for(spec.scenario, spec.data, spec.label, spec.split_column, spec.test)


def _is_lm(data: Any) -> bool:
    return isinstance(data, PeopleData)


def prepare(spec: RunSpec, ws: Workspace, *, progress: bool = True) -> Trained:
    """Build the splits and train (or load from the cache) the original and the oracle."""
    data = resolve_scenario(spec).build(spec.forget, spec.seed, model=spec.model)
    models, meta = {}, {}
    for role in ("original", "oracle"):
        models[role], meta[role] = trained_model(data, role, ws, progress=progress)
    return Trained(data, models["original"], models["oracle"], meta)


def trained_model(data: Any, role: str, ws: Workspace, *, progress: bool = True,
                  ) -> tuple[nn.Module, dict[str, Any]]:
    """The ``original`` or ``oracle`` model of built ``data``, from the cache or trained."""
    cache = ws.cache
    key = data.model_key(role)
    if _is_lm(data):
        model = data.new_model()
    else:
        model = build_model(data.model, data.pool.input_shape, data.n_classes, data.seed)
    cached = cache.load(key, model)
    if cached is None:
        model.to(device())
        _warm_up(model, data)
        start = time.perf_counter()
        with count_passes(model) as passes:
            if _is_lm(data):
                stats = runner_lm.train(model, data, role, progress=progress)
            else:
                split = data.train_split() if role == "original" else data.retain
                train(model, split, data.task, data.recipe, seed=data.seed,
                      desc=f"train {role}", progress=progress)
                stats = {}
        cached = {"role": role, "seconds": time.perf_counter() - start,
                  "forward": passes.forward, "backward": passes.backward,
                  "scenario": data.scenario, "seed": data.seed, **stats}
        cache.save(key, model, cached,
                   runner_lm.exporter(model, data) if _is_lm(data) else None)
    return model.to(device()).eval(), cached


def method_config(spec: RunSpec, method: MethodSpec, scenario: str,
                  ) -> tuple[Any, dict[str, object]]:
    """Paper defaults, then the scenario's preset, then ``--set``. Presets were tuned on the
    scenario's own model, so ``--model`` with another architecture runs without one."""
    own_model = spec.model is None or spec.model == resolve_scenario(spec).model
    preset = preset_for(scenario, method.name) if spec.use_preset and own_model else {}
    return build_config(method.config, {**preset, **spec.overrides}), preset


@dataclass(frozen=True)
class Step:
    """One request of a sequence (``obliviate.sequential``): unlearn ``unlearn_data`` from
    ``start`` (the previous step's model); ``Trained.data`` holds every request so far."""

    start: nn.Module
    unlearn_data: UnlearnData
    info: dict[str, Any]
    result: dict[str, nn.Module] = field(default_factory=dict)  # run() leaves "model" here


def run(spec: RunSpec, ws: Workspace, *, trained: Trained | None = None,
        progress: bool = True, step: Step | None = None) -> tuple[dict[str, Any], Path]:
    """Unlearn, evaluate beside the oracle, write the record and index it in the store."""
    scenario = resolve_scenario(spec)
    method = get_method(spec.method, task="causal_lm" if scenario.kind == "lm"
                        else "classification")
    cfg, preset = method_config(spec, method, scenario.name)
    if spec.lora and scenario.kind != "lm":  # before any training, not after
        raise ObliviateError("--lora is for language models (the people scenarios)")
    attack_cfgs = attack_configs(spec, "lm" if scenario.kind == "lm" else "classification")
    store = ws.store()  # open before the slow part: a bad URL fails at once
    writable_dir(ws.runs_dir)  # likewise: never lose a finished run to an unwritable directory
    t = trained or prepare(spec, ws, progress=progress)
    data = t.data
    model = copy.deepcopy(t.original if step is None else step.start)
    if spec.lora:
        model = add_lora(model)
    _warm_up(t.original, data)
    start = time.perf_counter()
    with count_passes(model) as passes:
        result = method.unlearn(model, data.unlearn_data() if step is None else
                                step.unlearn_data, cfg, task=data.task, seed=spec.seed)
    seconds = time.perf_counter() - start
    unlearned = result.model.eval()
    if spec.lora:  # fold the adapter in: evaluation and records see a plain model
        unlearned = unlearned.merge_and_unload().eval()
    bad = [k for k, p in unlearned.state_dict().items() if not torch.isfinite(p).all()]
    if bad:
        raise DivergedError(f"method {method.name!r} diverged: {bad[0]} has non-finite "
                            f"values (config {config_dict(cfg)}); try a smaller lr")
    models = {"original": t.original, "unlearned": unlearned, "oracle": t.oracle}
    arrays: dict[str, np.ndarray] = {}  # the feature sidecar (obliviate.sidecar)
    if _is_lm(data):
        metrics, extra = runner_lm.evaluate(models, data, seed=spec.seed, arrays_out=arrays,
                                            progress=progress)
    else:
        metrics, per_class = evaluate(models, data, seed=spec.seed)
        extra = {"per_class_accuracy": per_class}
        arrays = classifier_arrays(models, data, seed=spec.seed)
    if step is not None:
        extra["sequence"] = step.info
        step.result["model"] = unlearned
    if attack_cfgs:
        def pairs(k: int) -> list[tuple[nn.Module, nn.Module]]:
            return _shadow_pairs(t, unlearned, method, cfg, ws, k, progress)
        extra["attacks"] = run_attacks(list(attack_cfgs), attack_cfgs,
                                       Target(data, models, spec.seed),
                                       None if _is_lm(data) else pairs)
    retrain_s = float(t.meta["oracle"]["seconds"])
    efficiency = {"unlearn_seconds": seconds, "retrain_seconds": retrain_s,
                  "ratio": seconds / retrain_s, "forward": passes.forward,
                  "backward": passes.backward, "retrain_forward": t.meta["oracle"]["forward"],
                  "retrain_backward": t.meta["oracle"]["backward"]}
    metrics["RTE"] = {"unit": "s", "higher_is_better": False, "original": None,
                      "unlearned": seconds, "oracle": retrain_s, "per_sample": {}}
    record = _record(spec, data, method, cfg, preset, metrics, extra, efficiency,
                     result.info)
    # The sidecar first: a record never names a file that is not there yet.
    record["sidecar"] = write_sidecar(ws.runs_dir / sidecar_file(record["run_id"]), arrays)
    path = write_record(record, ws.runs_dir)
    store.add(record, path)
    return record, path


def attack_configs(spec: RunSpec, kind: str) -> dict[str, object]:
    """The configs of the attacks a spec asks for, checked before anything is trained."""
    names = parse_attacks(",".join(spec.attacks), kind) if spec.attacks else []
    stray = sorted(set(spec.attack_overrides) - set(names))
    if stray:
        raise ObliviateError(f"--attack-set names {stray[0]!r}, which is not among the "
                             f"attacks of this run ({', '.join(names) or 'none'})")
    return {n: build_config(ATTACKS[n].config, dict(spec.attack_overrides.get(n, {})))
            for n in names}


def _shadow_pairs(t: Trained, unlearned: nn.Module, method: MethodSpec, cfg: object,
                  ws: Workspace, k: int, progress: bool) -> list[tuple[nn.Module, nn.Module]]:
    """K (unlearned, oracle) pairs on the run's splits, seeds seed..seed+K-1: the run's own
    pair, then models trained (or loaded from the cache) and unlearned with other seeds."""
    pairs = [(unlearned, t.oracle)]
    for i in tqdm(range(1, k), desc="shadow models", leave=False, disable=not progress):
        data = dataclasses.replace(t.data, seed=t.data.seed + i)
        original, _ = trained_model(data, "original", ws, progress=False)
        oracle, _ = trained_model(data, "oracle", ws, progress=False)
        result = method.unlearn(copy.deepcopy(original), data.unlearn_data(), cfg,
                                task=data.task, seed=data.seed)
        model = result.model.eval()
        if not all(torch.isfinite(p).all() for p in model.state_dict().values()):
            raise DivergedError(f"method {method.name!r} diverged on shadow seed {data.seed}")
        pairs.append((model, oracle))
    return pairs


def _warm_up(model: nn.Module, data: Any) -> None:
    """Two SGD steps on a throwaway copy, outside the clock.

    The first optimizer step in a process pays about a second of one-time setup (measured on
    these CPUs: 1.1 s against 0.07 s for a whole GA run); without this it is billed to
    whichever of retraining or the method runs first, and time ratios mean nothing.
    """
    model = copy.deepcopy(model)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
    batch = next(data.retain.batches(32)).to(next(model.parameters()).device)
    for _ in range(2):
        opt.zero_grad()
        data.task.per_sample_loss(model, batch).mean().backward()
        opt.step()


def _record(spec: RunSpec, data: Any, method: MethodSpec, cfg: object,
            preset: dict[str, object], metrics: dict[str, Any], extra: dict[str, Any],
            efficiency: dict[str, Any], info: dict[str, float]) -> dict[str, Any]:
    now = dt.datetime.now(dt.timezone.utc)
    tag = hashlib.sha1(f"{now.isoformat()}{os.getpid()}{spec}".encode()).hexdigest()[:8]
    return {
        "schema": "obliviate.run/1",
        "run_id": f"{now:%Y%m%dT%H%M%S}-{method.name}-{tag}",
        "created": now.isoformat(),
        "scenario": {"name": data.scenario, "forget": data.forget_spec, "seed": data.seed,
                     "kind": "lm" if _is_lm(data) else "classification",
                     **(runner_lm.scenario_fields(data) if _is_lm(data) else
                        {"model": data.model, "split": data.split_source,
                         "sizes": data.sizes(),
                         "recipe": asdict(data.recipe), "classes": list(data.pool.classes),
                         "data_fingerprint": data.pool.fingerprint(),
                         "forget_rows": [int(r) for r in data.pool.row[data.forget.ids]]})},
        "method": {"name": method.name, "paper": method.paper, "config": config_dict(cfg),
                   "preset": preset, "overrides": dict(spec.overrides), "info": info},
        "metrics": metrics,
        **extra,
        "efficiency": efficiency,
        "environment": {"obliviate": obliviate.__version__, "torch": torch.__version__,
                        "python": platform.python_version(), "platform": platform.platform(),
                        "device": str(device()), "threads": torch.get_num_threads()},
    }
