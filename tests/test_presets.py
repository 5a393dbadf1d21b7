"""A hyperparameter has one home, its config dataclass (the peer kept NPO's beta at 1.0 in code
and 0.1 in YAML). Presets only override fields that exist; show-config prints the defaults."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from obliviate.cli import main
from obliviate.config import build_config
from obliviate.methods import METHODS
from obliviate.presets import PRESETS
from obliviate.scenarios import SCENARIOS


@pytest.mark.parametrize(("scenario", "method"), sorted(PRESETS))
def test_every_preset_names_real_fields_and_builds(scenario: str, method: str) -> None:
    assert scenario in SCENARIOS and method in METHODS
    spec = METHODS[method]
    fields = {f.name for f in dataclasses.fields(spec.config)}
    assert set(PRESETS[scenario, method]) <= fields
    cfg = build_config(spec.config, PRESETS[scenario, method])
    for k, v in PRESETS[scenario, method].items():
        assert getattr(cfg, k) == v
    kind = SCENARIOS[scenario].kind
    task = {"lm": "causal_lm"}.get(kind, kind)  # the Task name of a kind (lm's is causal_lm)
    assert task in spec.tasks, f"a preset for {method} on {scenario}, which it cannot run"


@pytest.mark.parametrize("method", sorted(METHODS))
def test_show_config_prints_exactly_the_dataclass_defaults(
        method: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(tmp_path), "show-config", method]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    printed = dict(line.strip().split(" = ", 1) for line in lines if " = " in line)
    defaults = {f.name: f.default for f in dataclasses.fields(METHODS[method].config)}
    assert printed == {k: repr(v) for k, v in defaults.items()}


def test_every_preset_says_where_it_was_chosen() -> None:
    from obliviate.presets import CHOSEN_ON, FORGET_PRESETS, chosen_on

    assert set(PRESETS) | set(FORGET_PRESETS) <= set(CHOSEN_ON)
    for key, (where, seeds) in CHOSEN_ON.items():
        assert where in SCENARIOS and seeds, key
        forget = f"{key[2]}:x" if len(key) == 3 else None
        got = chosen_on(key[0], key[1], forget)
        assert got is not None and got["scenario"] == where and got["seeds"] == list(seeds)


def test_a_forget_kind_preset_wins_for_its_kind_only() -> None:
    """SSD's digits preset is for class forgetting; random forgetting has its own."""
    from obliviate.presets import FORGET_PRESETS, preset_for

    assert preset_for("digits", "ssd", "random:0.1") == FORGET_PRESETS["digits", "ssd",
                                                                       "random"]
    assert preset_for("digits", "ssd", "class:3") == PRESETS["digits", "ssd"]
    assert preset_for("digits", "ssd") == PRESETS["digits", "ssd"]
    assert preset_for("digits", "retrain", "random:0.1") == {}


def test_benchmark_refuses_seeds_a_preset_was_chosen_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """A preset chosen on digits seeds 3 and 4 blocks those seeds and no other; one chosen on
    people-small blocks no seed of people."""
    from obliviate import presets
    from obliviate.errors import ObliviateError

    monkeypatch.setitem(presets.PRESETS, ("digits", "ga"), {"lr": 0.01})
    monkeypatch.setitem(presets.CHOSEN_ON, ("digits", "ga"), ("digits", (3, 4)))
    monkeypatch.setitem(presets.CHOSEN_ON, ("people", "rmu"), ("people-small", (0, 1, 2)))
    assert presets.tuned_on("digits", ["ga"], [0, 1, 2]) == []
    assert presets.tuned_on("digits", ["ga"], [2, 3]) == [("ga", 3)]
    assert presets.tuned_on("people", ["rmu"], [0, 1, 2]) == []
    assert presets.tuned_on("digits", ["retrain"], [3]) == []  # no preset, nothing tuned
    with pytest.raises(ObliviateError, match=r"digits: 2 method/seed pairs .*ga \(seed 3\), "
                                             r"ga \(seed 4\)"):
        presets.check_held_out("digits", ["ga"], [3, 4])


def test_forget_kind_presets_name_real_fields() -> None:
    from obliviate.presets import FORGET_PRESETS

    for (scenario, method, _), fields in FORGET_PRESETS.items():
        assert scenario in SCENARIOS and method in METHODS
        build_config(METHODS[method].config, fields)
