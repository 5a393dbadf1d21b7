"""A grid's cells, checked before anything is trained, and which of them are finished.

A cell is one ``RunSpec``. It carries the definitions of its scenario and method with it, so
that a worker that never imported them (a scenario or method registered at run time by a
plugin or a test, on a Ray node or a fresh worker process) runs exactly what the driver
checked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from obliviate.config import config_dict
from obliviate.errors import ObliviateError, shown
from obliviate.methods import MethodSpec, get_method
from obliviate.runconfig import method_config
from obliviate.runner import RunSpec, build
from obliviate.scenarios import AnyScenario, get_scenario
from obliviate.storage.records import SCHEMA, validate
from obliviate.storage.store import Store


@dataclass(frozen=True)
class Cell:
    """One run of the grid, with what is needed to recognise its record."""

    spec: RunSpec
    scenario_def: AnyScenario
    method_def: MethodSpec
    config: dict[str, Any]  # the method config the cell runs with (JSON-normalised)
    model_keys: tuple[str, ...]  # the cache keys of the reference models it needs
    # The forget set as its record names it (the scenario's normal form, e.g. "range:250:inf"
    # is recorded as "range:250.0:inf"); empty: as the spec spells it.
    record_forget: str = ""

    @property
    def forget(self) -> str:
        return self.record_forget or self.spec.forget

    @property
    def label(self) -> str:
        s = self.spec
        return f"{s.scenario} {s.forget} {s.method} seed {s.seed}"

    @property
    def group(self) -> tuple[str, str]:
        """The leaderboard the cell belongs to: its scenario and forget set."""
        return self.spec.scenario, self.spec.forget


@dataclass(frozen=True)
class Reference:
    """One reference model (original, oracle, noise floor) to train into the cache before
    the cells that need it fan out: two cells never train the same model at once."""

    spec: RunSpec
    scenario_def: AnyScenario
    role: str
    key: str

    @property
    def label(self) -> str:
        return f"{self.spec.scenario} {self.role} seed {self.spec.seed}"


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` -> [0, 1, 2]; anything else is one line naming the bad part."""
    out: list[int] = []
    for part in text.split(","):
        try:
            seed = int(part.strip())
        except ValueError:
            raise ObliviateError(f"--seeds {shown(text)}: {shown(part)} is not a whole number; "
                                 "expected seeds separated by commas, e.g. 0,1,2") from None
        if not 0 <= seed < 2**32:
            raise ObliviateError(f"--seeds {shown(text)}: seed {seed} must be in [0, 2**32)")
        if seed not in out:
            out.append(seed)
    return out


def names(text: str, flag: str) -> list[str]:
    """A comma-separated list of names, each once, none empty."""
    items = [n.strip() for n in text.split(",")]
    if not all(items):
        raise ObliviateError(f"{flag} {shown(text)}: an empty name; expected names separated "
                             "by commas")
    return list(dict.fromkeys(items))


def expand(scenarios: Sequence[str], methods: Sequence[str], seeds: Sequence[int],
           forgets: Mapping[str, Sequence[str]], *, use_preset: bool = True,
           noise_floor: bool = True,
           overrides: Mapping[str, Mapping[str, object]] | None = None,
           ) -> tuple[list[Cell], list[Reference]]:
    """Every cell of scenario x forget set x method x seed, in that order, and the reference
    models they need (each once). ``forgets[scenario]`` are that scenario's forget sets.

    Everything a user can get wrong fails here, before anything is trained: an unknown
    scenario or method, a method that does not support a scenario's task, a forget set the
    scenario cannot select, an override a method's config has no field for.
    """
    overrides = overrides or {}
    for m in methods:
        get_method(m)
    stray = sorted(set(overrides) - set(methods))
    if stray:
        raise ObliviateError(f"--set names method {stray[0]!r}, which is not among the "
                             f"grid's methods ({', '.join(methods)})")
    cells: list[Cell] = []
    references: dict[str, Reference] = {}
    roles = ("original", "oracle", "independent") if noise_floor else ("original", "oracle")
    for name in scenarios:
        scenario = get_scenario(name)
        for forget in forgets[name]:
            for seed in seeds:
                base = RunSpec(methods[0], forget, name, seed, use_preset=use_preset,
                               noise_floor=noise_floor)
                exp = build(base)  # a bad forget set fails here
                keys = tuple(exp.model_key(r) for r in roles)
                for role, key in zip(roles, keys, strict=True):
                    references.setdefault(key, Reference(base, scenario, role, key))
                for m in methods:
                    method = get_method(m, task=exp.task.name)
                    spec = RunSpec(m, forget, name, seed, overrides=dict(overrides.get(m, {})),
                                   use_preset=use_preset, noise_floor=noise_floor)
                    # As runner.run configures it (the scenario's own model, no user data).
                    cfg, _, _ = method_config(
                        method, scenario=scenario.name, preset_scenario=scenario.name,
                        use_preset=use_preset, own_model=True, model=None,
                        overrides=spec.overrides, forget=exp.forget_spec)
                    cells.append(Cell(spec, scenario, method, _normal(config_dict(cfg)), keys,
                                      exp.forget_spec))
    return cells, list(references.values())


def _normal(value: dict[str, Any]) -> dict[str, Any]:
    """As the record stores it (tuples become lists)."""
    out: dict[str, Any] = json.loads(json.dumps(value))
    return out


def matches(cell: Cell, record: dict[str, Any]) -> bool:
    """Whether ``record`` is a finished run of ``cell``: same scenario, forget set, method,
    seed and method config, this schema, with the noise floor if the cell asks for one; a
    record of a sequence of requests (``obliviate sequence``) is not a cell's."""
    sc, me = record["scenario"], record["method"]
    return (record["schema"] == SCHEMA and "sequence" not in record
            and sc["name"] == cell.scenario_def.name and sc["forget"] == cell.forget
            and sc["seed"] == cell.spec.seed and me["name"] == cell.spec.method
            and me["config"] == cell.config
            and ("independent_seconds" in record["efficiency"]) == cell.spec.noise_floor)


def finished(cells: Sequence[Cell], store: Store) -> dict[int, dict[str, Any]]:
    """The cells whose record is in the store (index -> the newest such record).

    A store row is added only after its record was written in full (written to a temporary
    file and renamed, then indexed: ``runner.run``), so a run killed mid-write never counts.
    """
    rows: dict[tuple[str, str, str, int], list[str]] = {}
    for r in reversed(store.list()):  # newest first
        rows.setdefault((r["scenario"], r["forget"], r["method"], r["seed"]), []).append(
            r["run_id"])
    done: dict[int, dict[str, Any]] = {}
    for i, cell in enumerate(cells):
        s = cell.spec
        for run_id in rows.get((cell.scenario_def.name, cell.forget, s.method, s.seed), []):
            record = store.get(run_id)
            try:
                validate(record)
            except ObliviateError:
                continue
            if matches(cell, record):
                done[i] = record
                break
    return done
