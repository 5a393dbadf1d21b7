"""The verdict line and the leaderboards' ranking rules, on hand-made records whose numbers
are chosen so each rule's threshold is crossed or not, worked out in the docstrings."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from obliviate.runner import weight_change
from obliviate.views.tables import leaderboard
from obliviate.views.verdict import verdict

ROLES = ("original", "unlearned", "oracle", "independent")


def _metric(**values: float | None) -> dict[str, Any]:
    return {"unit": "%", "higher_is_better": True, "per_sample": {}, **values}


def classifier(method: str = "m", *, ua: float, mia: float, ra: float = 100.0,
               ta: float = 90.0, floor: dict[str, float] | None = None, seed: int = 0,
               changed: int = 5, n_forget: int = 50) -> dict[str, Any]:
    """Oracle: UA 100, MIA 100, RA 100, TA 90; original: UA 0, MIA 0, RA 100, TA 98."""
    oracle = {"UA": 100.0, "MIA-Eff": 100.0, "RA": 100.0, "TA": 90.0}
    original = {"UA": 0.0, "MIA-Eff": 0.0, "RA": 100.0, "TA": 98.0}
    mine = {"UA": ua, "MIA-Eff": mia, "RA": ra, "TA": ta}
    metrics = {}
    for k in oracle:
        metrics[k] = _metric(original=original[k], unlearned=mine[k], oracle=oracle[k],
                             **({"independent": floor[k]} if floor else {}))

    def gap(v: dict[str, float]) -> float:
        return sum(abs(v[k] - oracle[k]) for k in oracle) / 4

    metrics["Avg.Gap"] = _metric(original=gap(original), unlearned=gap(mine), oracle=0.0,
                                 **({"independent": gap(floor)} if floor else {}))
    return {"schema": "obliviate.run/2", "method": {"name": method},
            "scenario": {"name": "digits", "forget": "class:3", "seed": seed,
                         "kind": "classification", "sizes": {"forget": n_forget}},
            "metrics": metrics, "effect": {"changed_parameters": changed, "parameters": 100},
            "efficiency": {"unlearn_seconds": 0.1, "ratio": 0.05, "retrain_seconds": 2.0,
                           "independent_seconds": 2.1}}


def test_classifier_forgetting_reached_within_one_sample() -> None:
    """|D_f| = 50: one sample is 2 points. UA 99, MIA 99: mean signed gap -1, within 2."""
    v = verdict(classifier(ua=99.0, mia=99.0))
    assert (v.forgetting, v.utility) == ("reached", "held")
    assert "-1.00 points" in v.line and "one forget sample" in v.line


def test_classifier_not_reached_and_utility_lost() -> None:
    """UA 80, MIA 90: -15 points, beyond the 2-point slack; TA 85 is 5 points below 90."""
    v = verdict(classifier(ua=80.0, mia=90.0, ta=85.0))
    assert (v.forgetting, v.utility) == ("not reached", "lost")
    assert "TA 5.00 points below the oracle" in v.line


def test_classifier_noise_floor_widens_the_slack_and_over_shoot() -> None:
    """A floor with UA / MIA 8 and 6 points off the oracle: slack mean(8, 6) = 7. UA 94,
    MIA 94 (-6) is reached; against a random-forget oracle of UA 2 the same rule calls
    forgetting far beyond it over-shot."""
    floor = {"UA": 92.0, "MIA-Eff": 94.0, "RA": 100.0, "TA": 89.0}
    assert verdict(classifier(ua=94.0, mia=94.0, floor=floor)).forgetting == "reached"
    assert verdict(classifier(ua=90.0, mia=88.0, floor=floor)).forgetting == "not reached"
    rec = classifier(ua=40.0, mia=60.0)
    for k, v in (("UA", 2.0), ("MIA-Eff", 3.0)):
        rec["metrics"][k]["oracle"] = v
    assert verdict(rec).forgetting == "over-shot"


def test_unchanged_model_is_said_first() -> None:
    v = verdict(classifier(ua=0.0, mia=0.0, changed=0))
    assert v.forgetting == "unchanged" and "left the model unchanged (0 of 100" in v.line


def lm(method: str = "m", *, fq: float, mu: float, ratios: list[float],
       floor_fq: float | None = None, floor_mu: float | None = None,
       seed: int = 0) -> dict[str, Any]:
    """Original MU 0.8; oracle truth ratios [1, 1, 1] (median 1)."""
    fqm = _metric(original=1e-9, unlearned=fq, oracle=1.0,
                  **({"independent": floor_fq} if floor_fq is not None else {}))
    fqm["per_sample"] = {"unlearned": ratios, "oracle": [1.0, 1.0, 1.0]}
    mum = _metric(original=0.8, unlearned=mu, oracle=0.78,
                  **({"independent": floor_mu} if floor_mu is not None else {}))
    other = {k: _metric(original=0.0, unlearned=0.0, oracle=0.0)
             for k in ("Exact match (D_f)", "Exact match (D_r)", "PrivLeak")}
    return {"schema": "obliviate.run/2", "method": {"name": method},
            "scenario": {"name": "people", "forget": "people:0.1", "seed": seed, "kind": "lm"},
            "metrics": {"Forget quality": fqm, "Model utility": mum, **other},
            "lm": {"forget_questions": 3}, "effect": {"changed_parameters": 9},
            "efficiency": {"unlearn_seconds": 1.0, "ratio": 0.1, "retrain_seconds": 10.0}}


def test_lm_forgetting_direction_from_truth_ratios() -> None:
    """FQ 0.01 < 0.05: median R 0.2 below the oracle's 1 = still prefers the truth (not
    reached); median 3 above = prefers wrong answers more than a never-trained model."""
    assert verdict(lm(fq=0.01, mu=0.8, ratios=[0.1, 0.2, 0.3])).forgetting == "not reached"
    assert verdict(lm(fq=0.01, mu=0.8, ratios=[2.0, 3.0, 4.0])).forgetting == "over-shot"
    assert verdict(lm(fq=0.2, mu=0.8, ratios=[2.0, 3.0, 4.0])).forgetting == "reached"


def test_lm_noise_floor_lowers_both_bars() -> None:
    """A floor with FQ 0.02 and MU 0.68 (0.85x): FQ 0.03 counts as reached and MU 0.70
    (0.875x < 0.9x) as held; without the floor both fail."""
    with_floor = verdict(lm(fq=0.03, mu=0.70, ratios=[1, 1, 1], floor_fq=0.02, floor_mu=0.68))
    assert (with_floor.forgetting, with_floor.utility) == ("reached", "held")
    without = verdict(lm(fq=0.03, mu=0.70, ratios=[0.5, 0.5, 0.5]))
    assert (without.forgetting, without.utility) == ("not reached", "lost")


def test_lm_leaderboard_never_ranks_a_method_that_lost_utility_first() -> None:
    """'collapsed' has FQ 0.9 at MU 0.33 (0.41x): listed after 'kept' (FQ 0.1 at 0.99x)
    and marked; the legend states the rule."""
    table = leaderboard([lm("collapsed", fq=0.9, mu=0.33, ratios=[1, 1, 1]),
                            lm("kept", fq=0.1, mu=0.79, ratios=[1, 1, 1])])
    lines = table.splitlines()
    kept = next(i for i, s in enumerate(lines) if s.startswith("kept"))
    collapsed = next(i for i, s in enumerate(lines) if s.startswith("collapsed"))
    assert kept < collapsed
    assert "utility lost: 0.41x, not ranked" in lines[collapsed]
    assert "FQ (3 q)" in lines[0] and "Ranking: by mean FQ" in table


def test_classifier_leaderboard_has_the_noise_floor_row() -> None:
    floor = {"UA": 100.0, "MIA-Eff": 100.0, "RA": 100.0, "TA": 88.0}
    table = leaderboard([classifier("a", ua=100.0, mia=100.0, floor=floor),
                         classifier("b", ua=0.0, mia=0.0, ta=98.0, changed=0, floor=floor)])
    assert "noise floor (independent retrain)" in table
    floor_row = next(s for s in table.splitlines() if s.startswith("noise floor"))
    assert "0.50" in floor_row  # Avg.Gap of the floor: |88 - 90| / 4
    assert "b (no better than original) (model unchanged)" in table


@pytest.mark.parametrize("change", [0.0, 1e-3])
def test_weight_change_counts_changed_weights(change: float) -> None:
    torch.manual_seed(0)
    a = torch.nn.Linear(3, 2)
    b = torch.nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    with torch.no_grad():
        b.weight[0, 0] += change
    effect = weight_change(a, b)
    assert effect["parameters"] == 8
    assert effect["changed_parameters"] == (1 if change else 0)
    assert effect["max_abs_change"] == pytest.approx(change, abs=1e-7)
