"""benchmarks/flips.py's counts and benchmarks/classifier.py's noise-floor bar, on numbers
worked by hand."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest


def _bench(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(
        f"bench_{name}", Path(__file__).parent.parent / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


flips = _bench("flips")
classifier = _bench("classifier")


def test_changes_split_by_forget_class_and_correct_diff_is_signed() -> None:
    """labels [3, 3, 1, 2, 2, 0], forget class 3.
    pred   [5, 3, 1, 2, 0, 0]; ref [8, 3, 1, 0, 2, 0]: they differ at 0 (a 3), 3 and 4 (a 2
    each): outside 2, inside 1. Correct: pred at 1, 2, 3, 5 = 4; ref at 1, 2, 4, 5 = 4: +0.
    oracle [8, 5, 1, 0, 1, 0]: correct at 2, 5 = 2, so pred's diff is 4 - 2 = +2 and the
    oracle's against pred -2."""
    labels = np.array([3, 3, 1, 2, 2, 0])
    pred = np.array([5, 3, 1, 2, 0, 0])
    ref = np.array([8, 3, 1, 0, 2, 0])
    oracle = np.array([8, 5, 1, 0, 1, 0])
    assert flips.changes(pred, ref, labels, np.array([3])) == (2, 1)
    assert flips.changes(pred, ref, labels, np.array([2, 3])) == (0, 3)
    assert flips.correct_diff(pred, ref, labels) == 0
    assert flips.correct_diff(pred, oracle, labels) == 2
    assert flips.correct_diff(oracle, pred, labels) == -2


def test_within_share_counts_seed_retrain_pairs() -> None:
    """Seed 3: gap 0.14 against retrains 0.35, 0.14, 0.0 -> within 2 of 3 (0.14 <= 0.14
    counts); seed 4: gap 0.07 against 0.0 -> 0 of 1. 2 of 4 pairs: 0.5."""
    share = flips.within_share({3: 0.14, 4: 0.07}, {3: [0.35, 0.14, 0.0], 4: [0.0]})
    assert share == pytest.approx(0.5)


def _record(method: str, seed: int, gap: float, floor: float | None,
            ratio: float | None) -> dict[str, Any]:
    avg: dict[str, Any] = {"unlearned": gap, "original": 52.0, "oracle": 0.0}
    if floor is not None:
        avg["independent"] = floor
    return {"method": {"name": method}, "scenario": {"seed": seed},
            "metrics": {"Avg.Gap": avg}, "efficiency": {"ratio": ratio}}


def test_noise_floor_bar_compares_the_mean_gap_with_the_independent_retrains() -> None:
    """Floors 0.07 / 0.00 / 0.14 on seeds 0-2: mean 0.07.
    a: gaps 0.07, 0.14, 0.00 -> mean 0.07 <= 0.07, ratio 1.5% <= 2%: MET.
    slow: gaps 0 at 3% > 2%: not.  far: mean 0.10 > 0.07: not.
    untimed: gap 0 but one ratio withheld: not."""
    floors = {0: 0.07, 1: 0.0, 2: 0.14}
    runs = {"a": ([0.07, 0.14, 0.0], 0.015), "slow": ([0.0] * 3, 0.03),
            "far": ([0.10] * 3, 0.01), "untimed": ([0.0] * 3, None)}
    records = [_record(m, s, gaps[s], floors[s], 0.01 if m == "untimed" and s != 1 else ratio)
               for m, (gaps, ratio) in runs.items() for s in range(3)]
    lines = classifier.bars({("digits", "class:3"): records})
    assert "digits class:3: Avg.Gap <= 1.0 at <= 5% of retraining: MET by a, slow, far" in lines
    assert ("digits class:3: within the noise floor (Avg.Gap <= the independent retrain's "
            "0.07) at <= 2% of retraining: MET by a") in lines
    no_floor = [_record("a", s, 0.0, None, 0.01) for s in range(3)]
    assert not any("noise floor" in line
                   for line in classifier.bars({("digits", "class:3"): no_floor}))
