"""The contract every registered method meets on every kind of model it declares (STYLE.md
habit 7): one suite, parametrised over (method, kind) pairs (``contract_kinds.KINDS``).

Per pair, on the kind's small trained experiment: the same seed gives the same weights, the
weights change and stay finite, the forget score (``Experiment.forget_score``: forget
accuracy, forget exact match) moves toward the oracle's, the utility score on retained rows
stays within the kind's justified tolerance, and evaluation data never reaches the method:
it runs with the experiment's test / holdout data sealed (``contract_kinds``), and a
deliberately peeking method, planted here only, is caught by the same check.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
from typing import Any

import pytest
import torch

from contract_kinds import KINDS, EvaluationLeak, Kind, armed
from obliviate.config import build_config
from obliviate.methods import METHODS, MethodSpec
from obliviate.runner import RunSpec, Trained, Workspace, run
from obliviate.types import UnlearnData, UnlearnResult

CASES = [(m, k) for m in sorted(METHODS) for k, kind in KINDS.items()
         if kind.task in METHODS[m].tasks]
IDS = [f"{m}-{k}" for m, k in CASES]

# Pairs that cannot move the forget score toward the oracle without breaking another check,
# measured: they must still change the weights and pass every other check.
CANNOT_FORGET = {
    ("ga", "classification"): "gradient ascent: no lr forgets class 3 on seed 0 before collapse",
    ("neggrad+", "classification"): "NegGrad+: no beta/lr forgets on seed 0 before collapse",
    # outliers-tiny: the defaults move the outliers' score 0.4 / 3 points of 625; lr 0.05
    # diverges (scores of -1e18 / -1388 with the retained rows' gone too)
    ("ga", "regression"): "ga on regression: defaults barely move, lr 0.05 diverges",
    ("neggrad+", "regression"): "NegGrad+ on regression: defaults barely move, lr 0.05 "
                                "diverges",
    # recsys-tiny item:1,2 at the paper's defaults (recsys-small's sweeps covered mmrecun and
    # SSD only): no forgotten interaction leaves its user's top 20, or (bad_teacher) one enters
    ("ga", "recommendation"): "ga on BPR-MF at its defaults: distance 64.3 -> 64.3",
    ("neggrad+", "recommendation"): "NegGrad+ on BPR-MF at its defaults: 64.3 -> 64.3",
    ("rl", "recommendation"): "random labels on BPR-MF at their defaults: 64.3 -> 64.3",
    ("scrub", "recommendation"): "SCRUB on BPR-MF at its defaults: 64.3 -> 64.3",
    ("bad_teacher", "recommendation"): "bad teacher on BPR-MF, lr 0.05: 64.3 -> 71.4",
}
# Pairs that forget at the cost of more retained utility than the kind allows, measured.
LOSES_UTILITY = {
    ("rl", "regression"): "random targets on outliers-tiny: retained score 98.9 -> 69.7",
    ("salun", "regression"): "SalUn's random targets on outliers-tiny: 98.9 -> 75.9",
    ("ssd", "regression"): "SSD at alpha 2 (the lowest that dampens a weight): 98.9 -> 61.8",
}


def _marked(expected: dict[tuple[str, str], str]) -> list[Any]:
    return [pytest.param(m, k, marks=pytest.mark.xfail(strict=True, reason=expected[m, k]))
            if (m, k) in expected else (m, k) for m, k in CASES]


def _trained(request: pytest.FixtureRequest, kind: str) -> Trained:
    return request.getfixturevalue(KINDS[kind].fixture)  # type: ignore[no-any-return]


def _unlearn(spec: MethodSpec, t: Trained, kind: Kind, seed: int = 0) -> torch.nn.Module:
    cfg = build_config(spec.config, kind.settings(spec.name))
    result = spec.unlearn(copy.deepcopy(t.original), t.data.unlearn_data(), cfg,
                          task=t.data.task, seed=seed)
    assert isinstance(result, UnlearnResult)
    return result.model


@pytest.fixture(scope="module")
def unlearned(request: pytest.FixtureRequest) -> dict[tuple[str, str], torch.nn.Module]:
    return {(m, k): _unlearn(METHODS[m], _trained(request, k), KINDS[k]) for m, k in CASES}


@pytest.mark.parametrize(("name", "kind"), CASES, ids=IDS)
def test_defaults_construct_and_are_frozen(name: str, kind: str) -> None:
    cfg = METHODS[name].config()
    assert dataclasses.is_dataclass(cfg)
    field = dataclasses.fields(cfg)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(cfg, field, getattr(cfg, field))
    assert METHODS[name].paper


@pytest.mark.parametrize(("name", "kind"), CASES, ids=IDS)
def test_same_seed_same_weights_all_finite(name: str, kind: str, request: pytest.FixtureRequest,
                                           unlearned: dict[tuple[str, str], torch.nn.Module],
                                           ) -> None:
    again = _unlearn(METHODS[name], _trained(request, kind), KINDS[kind])
    for (k, a), b in zip(unlearned[name, kind].state_dict().items(),
                         again.state_dict().values(), strict=True):
        assert torch.equal(a, b), f"{name}: {k} differs between two runs with seed 0"
        assert torch.isfinite(a).all(), f"{name}: {k} is not finite"


@pytest.mark.parametrize(("name", "kind"), CASES, ids=IDS)
def test_parameters_change(name: str, kind: str, request: pytest.FixtureRequest,
                           unlearned: dict[tuple[str, str], torch.nn.Module]) -> None:
    before = dict(_trained(request, kind).original.named_parameters())
    changed = [k for k, p in unlearned[name, kind].named_parameters()
               if not torch.equal(p, before[k])]
    assert changed, f"{name} left every parameter unchanged on {kind}"


@pytest.mark.parametrize(("name", "kind"), _marked(CANNOT_FORGET), ids=IDS)
def test_forget_score_moves_toward_the_oracle(name: str, kind: str,
                                              request: pytest.FixtureRequest,
                                              unlearned: dict[tuple[str, str], torch.nn.Module],
                                              ) -> None:
    """At least ``Kind.min_closed`` points (10) of the original's distance to the oracle's
    forget score are closed (the oracle forgot; how close each method gets is the
    benchmark's business)."""
    t = _trained(request, kind)
    rows = t.data.attack_rows()
    oracle = t.data.forget_score(t.oracle, rows)
    before = abs(t.data.forget_score(t.original, rows) - oracle)
    after = abs(t.data.forget_score(unlearned[name, kind], rows) - oracle)
    k = KINDS[kind]
    assert before > k.min_start, f"{kind}: the original must start far from the oracle " \
        f"({before:.1f})"
    assert after < before - k.min_closed, (
        f"{name}: distance to the oracle {before:.1f} -> {after:.1f}")


@pytest.mark.parametrize(("name", "kind"), _marked(LOSES_UTILITY), ids=IDS)
def test_retain_utility_within_tolerance(name: str, kind: str, request: pytest.FixtureRequest,
                                         unlearned: dict[tuple[str, str], torch.nn.Module],
                                         ) -> None:
    t, k = _trained(request, kind), KINDS[kind]
    rows = t.data.utility_rows()
    before = t.data.forget_score(t.original, rows)
    after = t.data.forget_score(unlearned[name, kind], rows)
    assert after >= before - k.retain_tolerance, (
        f"{name}: retained score {before:.1f} -> {after:.1f}, more than "
        f"{k.retain_tolerance} points ({k.why})")


def _sealed_unlearn(spec: MethodSpec, t: Trained, kind: Kind) -> torch.nn.Module:
    """The method with its experiment's evaluation data sealed while it runs; the sealed
    experiment sits in this frame, where a cheat could find it."""
    sealed = kind.seal(t)
    cfg = build_config(spec.config, kind.settings(spec.name))
    with armed():
        result = spec.unlearn(copy.deepcopy(sealed.original), sealed.data.unlearn_data(), cfg,
                              task=sealed.data.task, seed=0)
    return result.model


@pytest.mark.parametrize(("name", "kind"), CASES, ids=IDS)
def test_evaluation_data_never_reaches_the_method(
        name: str, kind: str, request: pytest.FixtureRequest,
        unlearned: dict[tuple[str, str], torch.nn.Module]) -> None:
    """Any touch of sealed test / holdout data raises; the sealed run's weights equal the
    unsealed run's (the seal changes nothing else)."""
    model = _sealed_unlearn(METHODS[name], _trained(request, kind), KINDS[kind])
    for a, b in zip(model.state_dict().values(), unlearned[name, kind].state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)


def _peek(model: Any, data: UnlearnData, cfg: Any, *, task: Any, seed: int) -> UnlearnResult:
    """A method that cheats: it finds the experiment in a caller's frame and reads its
    evaluation data (test rows of a classifier, holdout people of a language model)."""
    for frame in inspect.stack():
        for value in list(frame.frame.f_locals.values()):
            exp = getattr(value, "data", value)
            if hasattr(exp, "test") and hasattr(exp.test, "inputs"):
                exp.test.inputs.float().mean()
            if hasattr(exp, "corpus"):
                len(exp.corpus.holdout)
    return UnlearnResult(model)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_peeking_method_is_caught(kind: str, request: pytest.FixtureRequest) -> None:
    spec = MethodSpec("peek", METHODS["ft"].config, _peek, (KINDS[kind].task,), "a test cheat")
    with pytest.raises(EvaluationLeak, match="evaluation data"):
        _sealed_unlearn(spec, _trained(request, kind), KINDS[kind])


def test_the_runner_hands_a_peeking_method_nothing_to_find(
        digits_class3: Trained, tmp_path: Any) -> None:
    """Through ``runner.run`` (whose frames hold the experiment): still caught while the
    method runs, and evaluation afterwards reads the sealed data as usual."""
    kind = KINDS["classification"]
    sealed = kind.seal(digits_class3)

    def guarded(model: Any, data: UnlearnData, cfg: Any, *, task: Any, seed: int) -> Any:
        with armed():
            return _peek(model, data, cfg, task=task, seed=seed)

    METHODS["peek"] = MethodSpec("peek", METHODS["ft"].config, guarded, ("classification",),
                                 "a test cheat")
    try:
        with pytest.raises(EvaluationLeak):
            run(RunSpec("peek", "class:3", "digits", 0, noise_floor=False),
                Workspace(tmp_path / "h"), trained=sealed, progress=False)
        METHODS["peek"] = dataclasses.replace(METHODS["ft"], name="peek")
        record, _ = run(RunSpec("peek", "class:3", "digits", 0, noise_floor=False,
                                overrides={"epochs": 1}), Workspace(tmp_path / "h"),
                        trained=sealed, progress=False)
        assert record["metrics"]["TA"]["unlearned"] > 50  # evaluated on the real test rows
    finally:
        del METHODS["peek"]


def test_every_method_declares_a_kind_the_suite_covers() -> None:
    tasks = {k.task for k in KINDS.values()}
    assert all(set(s.tasks) & tasks for s in METHODS.values())
