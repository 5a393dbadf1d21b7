"""Our SSD beside supreme-unlearning's, on the digits class:3 model, splits and oracle.

    PYTHONPATH=src[:DIR] python benchmarks/peer_ssd.py [--seeds 0,1,2] [--home DIR]

DIR holds the peer (``pip install --target DIR --no-deps supreme-unlearning==0.1.5``); without
it the peer's rows are left out. Rows: our SSD in data order (the old digits preset), in the
reference's class-sorted order, and with the digits preset (class-pure batches, head only;
presets.py); the peer's SSD at the old preset's alpha 5 and at its own default 10; an
independent exact retrain (init_seed = seed + 1000: the noise floor); the original and the
oracle. Every method is timed after the runner's warm-up, against the retraining of the oracle
in this same process (a fresh home by default); the time is the unlearning call's alone.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from obliviate.config import build_config
from obliviate.methods import get_method
from obliviate.presets import preset_for
from obliviate.runner import RunSpec, Trained, Workspace, _warm_up, prepare
from obliviate.scenarios import ScenarioData
from obliviate.tasks.classification.evaluation import evaluate

COLUMNS = ("Avg.Gap", "UA", "RA", "TA", "MIA-Eff")
Unlearn = Callable[[nn.Module, ScenarioData, int], nn.Module]


def ours(method: str, settings: dict[str, object]) -> Unlearn:
    spec = get_method(method)
    cfg = build_config(spec.config, settings)

    def go(model: nn.Module, data: ScenarioData, seed: int) -> nn.Module:
        return spec.unlearn(model, data.unlearn_data(), cfg, task=data.task, seed=seed).model
    return go


def peer(alpha: float) -> Unlearn | None:
    """supreme-unlearning's ``ssd()`` with its loaders (shuffle=True, batch 64, (x, _, y)
    batches), or None when it is not installed. Its module imports wandb and Lightning Fabric
    at the top but needs neither on one device: stand-ins are used where they are missing."""
    for name in ("wandb", "lightning", "lightning.fabric"):
        try:
            __import__(name)
        except ImportError:
            sys.modules[name] = types.ModuleType(name)
    sys.modules["lightning.fabric"].__dict__.setdefault("Fabric", object)
    try:
        from supreme.methods.unlearning_methods import ssd as peer_ssd
    except ImportError:
        return None
    from torch.utils.data import ConcatDataset, DataLoader, TensorDataset

    class OneDevice:  # what the peer's ssd() asks of a Fabric on a single device
        global_rank = 0
        device = torch.device("cpu")

        def barrier(self) -> None: ...

        def all_reduce(self, t: torch.Tensor) -> torch.Tensor:
            return t

    def go(model: nn.Module, data: ScenarioData, seed: int) -> nn.Module:
        def ds(s: Any) -> TensorDataset:
            return TensorDataset(s.inputs, s.targets, s.targets)
        torch.manual_seed(seed)  # the peer's loaders shuffle with the global generator
        forget: DataLoader[Any] = DataLoader(ds(data.forget), batch_size=64, shuffle=True)
        full: DataLoader[Any] = DataLoader(ConcatDataset([ds(data.retain), ds(data.forget)]),
                                           batch_size=64, shuffle=True)
        peer_ssd.ssd(OneDevice(), 1, False, model, forget, full, dampening_constant=1.0,
                     selection_weighting=alpha, distributed_strategy_name="single")
        return model
    return go


def measure(t: Trained, go: Unlearn) -> dict[str, float]:
    model = copy.deepcopy(t.original)
    _warm_up(t.original, t.data)  # as the runner does: first-step setup is nobody's cost
    start = time.perf_counter()
    model = go(model, t.data, t.data.seed).eval()
    seconds = time.perf_counter() - start
    metrics, _ = evaluate({"original": t.original, "unlearned": model, "oracle": t.oracle},
                          t.data, seed=t.data.seed)
    retrain = float(t.meta["oracle"]["seconds"])
    return {**{c: metrics[c]["unlearned"] for c in COLUMNS},
            "s": seconds, "%": 100 * seconds / retrain, "retrain_s": retrain,
            **{f"{role}:{c}": metrics[c][role] for role in ("original", "oracle")
               for c in COLUMNS}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--home", type=Path, default=None, help="default: a temporary directory")
    args = p.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        p.error(f"--seeds {args.seeds!r}: expected integers separated by commas, e.g. 0,1,2")
    torch.set_num_threads(1)
    ws = Workspace(args.home or Path(tempfile.mkdtemp(prefix="obliviate-peer-ssd-")))
    rows: dict[str, Unlearn | None] = {
        "ssd data order, alpha 5 (old preset)": ours("ssd", {"alpha": 5.0}),
        "ssd class_sorted, alpha 5 (reference)": ours("ssd", {"alpha": 5.0,
                                                              "full_order": "class_sorted"}),
        "ssd digits preset": ours("ssd", preset_for("digits", "ssd")),
        "peer ssd, alpha 5": peer(5.0),
        "peer ssd, alpha 10 (its default)": peer(10.0),
    }
    if rows["peer ssd, alpha 5"] is None:
        print("supreme-unlearning is not importable: its rows are left out", file=sys.stderr)
    got: dict[str, list[dict[str, float]]] = {}
    for seed in seeds:
        t = prepare(RunSpec("ssd", "class:3", "digits", seed), ws, progress=False)
        floor = ours("retrain", {"init_seed": seed + 1000})
        for name, go in [*rows.items(), ("independent retrain (noise floor)", floor)]:
            if go is not None:
                got.setdefault(name, []).append(measure(t, go))
                print(f"  seed {seed} {name}: Avg.Gap {got[name][-1]['Avg.Gap']:.2f}",
                      file=sys.stderr, flush=True)
    first = next(iter(got.values()))
    got["original"] = [{**{c: r[f"original:{c}"] for c in COLUMNS}, "s": 0.0, "%": 0.0}
                       for r in first]
    got["oracle (retrained in this process)"] = [
        {**{c: r[f"oracle:{c}"] for c in COLUMNS}, "s": r["retrain_s"], "%": 100.0}
        for r in first]
    print(f"digits class:3, seeds {args.seeds}: means over seeds [Avg.Gap per seed]\n")
    print(f"{'':40s} {'Avg.Gap':>7s} {'per seed':>18s} {'UA':>6s} {'RA':>6s} {'TA':>6s} "
          f"{'MIA-Eff':>7s} {'time s':>7s} {'% retr':>6s}")
    for name, rs in got.items():
        m = {k: statistics.mean(r[k] for r in rs) for k in rs[0]}
        per = " ".join(f"{r['Avg.Gap']:.2f}" for r in rs)
        print(f"{name:40s} {m['Avg.Gap']:7.2f} {per:>18s} {m['UA']:6.2f} {m['RA']:6.2f} "
              f"{m['TA']:6.2f} {m['MIA-Eff']:7.2f} {m['s']:7.3f} {m['%']:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
