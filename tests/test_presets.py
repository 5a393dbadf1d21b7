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
    from obliviate.presets import CHOSEN_ON, chosen_on

    assert set(PRESETS) <= set(CHOSEN_ON)
    for (scenario, method), (where, seeds) in CHOSEN_ON.items():
        assert where in SCENARIOS and seeds, (scenario, method)
        assert chosen_on(scenario, method) == {"scenario": where, "seeds": list(seeds)}


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
