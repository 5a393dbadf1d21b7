"""The only place that wires experiment + method + metrics into a RunRecord (DESIGN.md).

It talks to the ``Experiment`` protocol only (``obliviate.experiment``): it never asks which
kind of model it holds, so a new kind adds a package and changes no line here.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import logging
import os
import platform
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

import obliviate
from obliviate.attacks import Target, run_attacks
from obliviate.config import config_dict
from obliviate.errors import DivergedError, ObliviateError
from obliviate.experiment import Experiment, device, environment, environment_differs
from obliviate.methods import MethodSpec, get_method
from obliviate.passes import count_passes
from obliviate.runconfig import attack_configs, method_config, weight_change
from obliviate.scenarios import scenario_for
from obliviate.storage.records import SCHEMA, writable_dir, write_record
from obliviate.storage.sidecar import file_name as sidecar_file
from obliviate.storage.sidecar import write_sidecar
from obliviate.tasks.causal_lm.models import add_lora
from obliviate.types import UnlearnData
from obliviate.workspace import Workspace

log = logging.getLogger("obliviate")


@dataclass(frozen=True)
class RunSpec:
    """What to run. ``data`` (a user file) replaces the scenario's data when given."""

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
    noise_floor: bool = True  # also train an independent exact retrain (the noise floor)
    # The original trained for guaranteed deletion ("sisa:shards=5,slices=4"; guaranteed/).
    train: str | None = None


@dataclass
class Trained:
    """The trained models of one built experiment, with their training costs (``meta``)."""

    data: Experiment
    original: nn.Module
    oracle: nn.Module
    meta: dict[str, dict[str, Any]]
    independent: nn.Module | None = None  # the noise floor, when trained

    def references(self) -> dict[str, nn.Module]:
        out = {"original": self.original, "oracle": self.oracle}
        if self.independent is not None:
            out["independent"] = self.independent
        return out


def resolve_scenario(spec: RunSpec) -> Any:
    """The scenario a spec names; ``--data`` puts the user's file in its place, split as
    ``split_column`` or ``test`` say."""
    return scenario_for(spec.scenario, spec.data, spec.label, spec.split_column, spec.test)


def build(spec: RunSpec) -> Experiment:
    """The spec's experiment: splits and forget set, nothing trained yet."""
    exp: Experiment = resolve_scenario(spec).build(spec.forget, spec.seed, model=spec.model)
    from obliviate.guaranteed.adapter import needs_training, trained_with

    if spec.train is not None or needs_training(spec.method):  # before any training
        exp = trained_with(exp, spec.train, spec.method, attacks=spec.attacks)
    return exp


def prepare(spec: RunSpec, ws: Workspace, *, progress: bool = True) -> Trained:
    """Build the experiment and train (or load from the cache) its reference models."""
    exp = build(spec)
    roles = ("original", "oracle", "independent") if spec.noise_floor else ("original",
                                                                           "oracle")
    models, meta = {}, {}
    for role in roles:
        models[role], meta[role] = trained_model(exp, role, ws, progress=progress)
    return Trained(exp, models["original"], models["oracle"], meta, models.get("independent"))


def trained_model(exp: Experiment, role: str, ws: Workspace, *, progress: bool = True,
                  ) -> tuple[nn.Module, dict[str, Any]]:
    """The model of ``role`` ("original", "oracle", "independent"), cached or trained; its
    meta records the training time and where it was measured."""
    cache = ws.cache
    key = exp.model_key(role)
    model = exp.new_model(role)
    cached = cache.load(key, model)
    if cached is None:
        model.to(device())
        _warm_up(model, exp)
        start = time.perf_counter()
        with count_passes(model) as passes:
            stats = exp.train(model, role, progress=progress)
        cached = {"role": role, "seconds": time.perf_counter() - start,
                  "forward": passes.forward, "backward": passes.backward,
                  "scenario": exp.scenario, "seed": exp.seed, "environment": environment(),
                  **stats}
        cache.save(key, model, cached, exp.exporter(model))
    return model.to(device()).eval(), cached


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
    exp = trained.data if trained is not None else build(spec)
    method = get_method(spec.method, task=exp.task.name)
    cfg, preset, provenance = method_config(
        method, scenario=scenario.name, preset_scenario=spec.scenario if spec.data else
        scenario.name, use_preset=spec.use_preset, overrides=spec.overrides,
        own_model=spec.model is None or spec.model == scenario.model, model=spec.model,
        forget=exp.forget_spec)
    if spec.lora and not scenario.supports_lora:  # before any training, not after
        raise ObliviateError("--lora is for Hugging Face language models (the people "
                             "scenarios)")
    attack_cfgs = attack_configs(spec.attacks, spec.attack_overrides, exp.kind)
    store = ws.store()  # open before the slow part: a bad URL fails at once
    writable_dir(ws.runs_dir)  # likewise: never lose a finished run to an unwritable directory
    t = trained or prepare(spec, ws, progress=progress)
    start_model = t.original if step is None else step.start
    model = copy.deepcopy(start_model)
    if spec.lora:
        model = add_lora(model)
    _warm_up(t.original, exp)
    start = time.perf_counter()
    with count_passes(model) as passes:
        result = method.unlearn(model, exp.unlearn_data() if step is None else
                                step.unlearn_data, cfg, task=exp.task, seed=spec.seed)
    seconds = time.perf_counter() - start
    unlearned = result.model.eval()
    if spec.lora:  # fold the adapter in: evaluation and records see a plain model
        unlearned = unlearned.merge_and_unload().eval()
    bad = [k for k, p in unlearned.state_dict().items() if not torch.isfinite(p).all()]
    if bad:
        raise DivergedError(f"method {method.name!r} diverged: {bad[0]} has non-finite "
                            f"values (config {config_dict(cfg)}); try a smaller lr")
    effect = weight_change(start_model, unlearned)
    models = {**t.references(), "unlearned": unlearned}
    evaluation = exp.evaluate(models, progress=progress)
    metrics, extra = evaluation.metrics, dict(evaluation.fields)
    if step is not None:
        extra["sequence"] = step.info
        step.result["model"] = unlearned
    if attack_cfgs:
        def pairs(k: int) -> list[tuple[nn.Module, nn.Module]]:
            return _shadow_pairs(t, unlearned, method, cfg, ws, k, progress)
        attack_models = {r: m for r, m in models.items() if r != "independent"}
        extra["attacks"] = run_attacks(list(attack_cfgs), attack_cfgs,
                                       Target(exp, attack_models, spec.seed), pairs)
    efficiency = _efficiency(t.meta, seconds, passes.forward, passes.backward)
    metrics["RTE"] = {"unit": "s", "higher_is_better": False, "original": None,
                      "unlearned": seconds, "oracle": efficiency["retrain_seconds"],
                      "per_sample": {}}
    record = _record(spec, exp, method, cfg, preset, metrics, extra, efficiency, result.info)
    record["effect"] = effect
    record["method"]["config_source"] = provenance["source"]
    record["method"]["preset_chosen_on"] = provenance["preset_chosen_on"]
    # The sidecar first: a record never names a file that is not there yet.
    record["sidecar"] = write_sidecar(ws.runs_dir / sidecar_file(record["run_id"]),
                                      evaluation.arrays)
    path = write_record(record, ws.runs_dir)
    store.add(record, path)
    return record, path


def _efficiency(meta: dict[str, dict[str, Any]], seconds: float, forward: int,
                backward: int) -> dict[str, Any]:
    """Time against retraining, only where both were timed in the same environment."""
    oracle = meta["oracle"]
    retrain_s = float(oracle["seconds"])
    withheld = environment_differs(oracle.get("environment"), environment())
    out: dict[str, Any] = {
        "unlearn_seconds": seconds, "retrain_seconds": retrain_s,
        "ratio": None if withheld else seconds / retrain_s, "forward": forward,
        "backward": backward, "retrain_forward": oracle["forward"],
        "retrain_backward": oracle["backward"], "environment": environment(),
        "retrain_environment": oracle.get("environment")}
    if withheld:
        out["ratio_withheld"] = withheld
    if "independent" in meta:
        out["independent_seconds"] = float(meta["independent"]["seconds"])
    return out


def _shadow_pairs(t: Trained, unlearned: nn.Module, method: MethodSpec, cfg: object,
                  ws: Workspace, k: int, progress: bool) -> list[tuple[nn.Module, nn.Module]]:
    """K (unlearned, oracle) pairs on the run's splits, seeds seed..seed+K-1: the run's own
    pair, then models trained (or loaded from the cache) and unlearned with other seeds."""
    pairs = [(unlearned, t.oracle)]
    for i in tqdm(range(1, k), desc="shadow models", leave=False, disable=not progress):
        exp = t.data.with_seed(t.data.seed + i)
        original, _ = trained_model(exp, "original", ws, progress=False)
        oracle, _ = trained_model(exp, "oracle", ws, progress=False)
        result = method.unlearn(copy.deepcopy(original), exp.unlearn_data(), cfg,
                                task=exp.task, seed=exp.seed)
        model = result.model.eval()
        if not all(torch.isfinite(p).all() for p in model.state_dict().values()):
            raise DivergedError(f"method {method.name!r} diverged on shadow seed {exp.seed}")
        pairs.append((model, oracle))
    return pairs


def _warm_up(model: nn.Module, exp: Experiment) -> None:
    """Two SGD steps on a throwaway copy, outside the clock.

    The first optimizer step in a process pays about a second of one-time setup (measured on
    these CPUs: 1.1 s against 0.07 s for a whole GA run); without this it is billed to
    whichever of retraining or the method runs first, and time ratios mean nothing.
    """
    if not any(p.requires_grad for p in model.parameters()):
        model = exp.new_model("oracle")  # a guaranteed model (guaranteed/adapter.py) has none
    model = copy.deepcopy(model)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
    batch = exp.warm_up_batch().to(next(model.parameters()).device)
    for _ in range(2):
        opt.zero_grad()
        exp.task.per_sample_loss(model, batch).mean().backward()
        opt.step()


def _record(spec: RunSpec, exp: Experiment, method: MethodSpec, cfg: object,
            preset: dict[str, object], metrics: dict[str, Any], extra: dict[str, Any],
            efficiency: dict[str, Any], info: dict[str, float]) -> dict[str, Any]:
    now = dt.datetime.now(dt.timezone.utc)
    tag = hashlib.sha1(f"{now.isoformat()}{os.getpid()}{spec}".encode()).hexdigest()[:8]
    return {
        "schema": SCHEMA,
        "run_id": f"{now:%Y%m%dT%H%M%S}-{method.name}-{tag}",
        "created": now.isoformat(),
        "scenario": {"name": exp.scenario, "forget": exp.forget_spec, "seed": exp.seed,
                     "kind": exp.kind, **exp.record_fields()},
        "method": {"name": method.name, "paper": method.paper, "config": config_dict(cfg),
                   "preset": preset, "overrides": dict(spec.overrides), "info": info},
        "metrics": metrics,
        **extra,
        "efficiency": efficiency,
        "environment": {"obliviate": obliviate.__version__, "torch": torch.__version__,
                        "python": platform.python_version(), "platform": platform.platform(),
                        "device": str(device()), "threads": torch.get_num_threads()},
    }
