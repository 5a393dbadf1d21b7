"""The language-model benchmark's bar lines, on hand-made records."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

spec = importlib.util.spec_from_file_location(
    "bench_lm", Path(__file__).parent.parent / "benchmarks" / "lm.py")
assert spec is not None and spec.loader is not None
bench_lm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_lm)


def record(method: str, fq: float, mu: float, mu_original: float, ratio: float) -> dict[str, Any]:
    return {"method": {"name": method},
            "metrics": {"Forget quality": {"unlearned": fq},
                        "Model utility": {"unlearned": mu, "original": mu_original}},
            "lm": {"eval_passes": {"unlearned": {"ratio": ratio}}, "forget_questions": 300}}


def test_bar_is_reported_on_the_mean_and_on_every_seed() -> None:
    records = [
        record("lucky", 0.20, 0.8, 0.8, 1.1), record("lucky", 0.001, 0.8, 0.8, 1.2),  # mean 0.1005
        record("steady", 0.06, 0.76, 0.8, 1.0), record("steady", 0.07, 0.73, 0.8, 1.0),
        record("broken", 0.9, 0.70, 0.8, 1.0), record("broken", 0.9, 0.71, 0.8, 1.0),  # 0.88x
        record("retrain", 1.0, 0.8, 0.8, 1.0), record("retrain", 1.0, 0.8, 0.8, 1.0),
    ]
    bar, cost, questions = bench_lm.bar_lines(records)
    # steady: mean MU 0.745 >= 0.72, and each seed's 0.76 / 0.73 >= 0.72 too.
    assert bar == ("forget quality >= 0.05 at model utility >= 0.9 x original's, on the mean of "
                   "the seeds: MET by lucky, steady; on every seed: MET by steady")
    assert cost == ("evaluation forward passes / passes needed: mean 1.038, max 1.200 over 8 "
                    "model evaluations (bar: <= 1.5)")
    assert questions == "forget questions per run: 300"


def test_no_method_meeting_the_bar_says_so() -> None:
    records = [record("a", 0.01, 0.8, 0.8, 1.0), record("a", 0.2, 0.5, 0.8, 1.0)]
    assert bench_lm.bar_lines(records)[0].endswith(
        "on the mean of the seeds: NOT MET; on every seed: NOT MET")
