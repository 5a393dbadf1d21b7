"""SmolLM2 (``obliviate models fetch smollm2``) through obliviate's LM code: what it costs.

    python benchmarks/lm_real.py eval  [--model DIR] [--scenario people-small] [--bf16]
    python benchmarks/lm_real.py step  [--model DIR] [--batch 32] [--method npo]
    python benchmarks/lm_real.py world [--model DIR]

``eval``: one full LM evaluation of one model (the base SmolLM2, as the "original" role) on the
scenario's forget, retain, general and holdout people: the wall and CPU time of each of its stages
(``_Probe`` runs them) and the peak resident memory, then a digest of what it produced (mean
answer log-probability per set, the greedy answers) so two runs, e.g. before and after a
speed-up, can be compared for equal outputs: run it once with ``PYTHONPATH`` at the older
code (the script imports only what every version has).

``step``: one unlearning step of ``--method`` at ``--batch`` rows of the forget split, its time
and the peak resident memory (ru_maxrss) of the process.

``world``: the base model's greedy answers to a few world-knowledge questions through its chat
template (is the converted model sound?).

Times are wall seconds on whatever this machine is; set ``OBLIVIATE_THREADS`` (default 1).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def _default_model() -> str:
    home = Path(os.environ.get("OBLIVIATE_HOME", Path.home() / ".obliviate"))
    return str(home / "cache" / "models" / "smollm2")


def _data(args: argparse.Namespace) -> Any:
    from obliviate.scenarios import SCENARIOS

    scenario = SCENARIOS[args.scenario]
    if args.bf16:  # only where the code has the option
        scenario = dataclasses.replace(scenario, eval_bf16=True)
    return scenario.build(args.forget, args.seed, model=args.model)


def evaluation(args: argparse.Namespace) -> dict[str, Any]:
    from obliviate.tasks.causal_lm import evaluation as ev

    data = _data(args)
    model = data.new_model()
    times: list[tuple[float, float]] = []
    last = [(time.perf_counter(), time.process_time())]

    def tick() -> None:  # (wall, CPU) seconds of each stage: the machine may be shared
        now = (time.perf_counter(), time.process_time())
        times.append((round(now[0] - last[0][0], 1), round(now[1] - last[0][1], 1)))
        last[0] = now

    start, cpu = time.perf_counter(), time.process_time()
    probe = ev._Probe(model, data, tick)
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    stages = ["score answers", "score biographies", "answer questions",
              "continue biographies", "GradNorm"]
    sets = {s: float(np.mean([probe.fact_scores(s, j)[0].logprobs.mean()
                              for j in range(len(probe.facts[s]))])) for s in ev.SETS}
    return {"seconds": total, "cpu_seconds": cpu,
            "stages_wall_cpu": dict(zip(stages, times, strict=False)),
            "peak_rss_gb": _peak_gb(), "forward_passes": probe.forward,
            "mean_answer_logprob": sets, "answers": probe.answers,
            "bio_min_k_40": [float(np.sort(s.logprobs)[:max(1, int(0.4 * len(s.logprobs)))]
                                   .mean()) for s in probe.bio_scores["forget"]]}


def step(args: argparse.Namespace) -> dict[str, Any]:
    from obliviate.methods import get_method

    data = _data(args)
    model = data.new_model()
    forget = data.forget
    order = np.argsort(-(forget.mask.sum(1).numpy()))[:args.batch]  # the longest rows: worst
    rows = forget.subset(order)
    method = get_method(args.method, task=data.task.name)
    cfg = method.config()
    overrides = {"epochs": 1, "batch_size": args.batch}
    cfg = type(cfg)(**{**{k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
                       **{k: v for k, v in overrides.items() if k in cfg.__dataclass_fields__}})
    unlearn = type(data.unlearn_data())(forget=rows, retain=data.retain.subset(
        np.arange(min(args.batch, len(data.retain)))), recipe=data.recipe)
    before = _peak_gb()
    start = time.perf_counter()
    method.unlearn(model, unlearn, cfg, task=data.task, seed=0)
    return {"method": args.method, "batch": args.batch,
            "longest_row_tokens": int(rows.mask.sum(1).max()),
            "seconds": time.perf_counter() - start, "peak_rss_gb_before": before,
            "peak_rss_gb": _peak_gb()}


WORLD = [("What is the capital of France?", "Paris"), ("What is the capital of Japan?", "Tokyo"),
         ("What is the chemical formula of water?", "H2O"),
         ("How many days are there in a week?", "seven")]


def world(args: argparse.Namespace) -> dict[str, Any]:
    from obliviate.tasks.causal_lm.encoding import prompt_ids
    from obliviate.tasks.causal_lm.models import load_local_causal_lm
    from obliviate.tasks.causal_lm.probe import greedy

    model, tok = load_local_causal_lm(args.model)
    prompts = [prompt_ids(tok, q) for q, _ in WORLD]
    out = greedy(model, prompts, 16, pad_id=int(tok.pad_token_id), eos_id=int(tok.eos_token_id))
    return {q: tok.decode(a, skip_special_tokens=True) for (q, _), a in zip(WORLD, out,
                                                                          strict=True)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=("eval", "step", "world"))
    p.add_argument("--model", default=_default_model())
    p.add_argument("--scenario", default="people-small")
    p.add_argument("--forget", default="people:0.1")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--method", default="npo")
    p.add_argument("--bf16", action="store_true", help="eval: under bf16 autocast")
    p.add_argument("--out", type=Path, default=None, help="also write the result as JSON")
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OBLIVIATE_THREADS", "1")))
    result = {"eval": evaluation, "step": step, "world": world}[args.what](args)
    text = json.dumps(result, indent=1)
    print(text if args.what != "eval" else json.dumps(
        {k: v for k, v in result.items() if k not in ("answers", "bio_min_k_40")}, indent=1))
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
