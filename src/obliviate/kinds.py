"""The kinds of model obliviate handles, and each kind's bundled default scenario.

Torch-free, so the CLI can resolve ``--task`` without importing a model. A kind's package is
``tasks/<package>/``; its scenarios are registered in ``scenarios.SCENARIOS``.
"""

from __future__ import annotations

from obliviate.errors import ObliviateError

# kind (the records' scenario.kind) -> the scenario ``--task KIND`` picks for a user's --data
DEFAULT_SCENARIO: dict[str, str] = {
    "classification": "digits",
    "lm": "people",
    "regression": "diabetes",
    "graph": "sbm",
    "recommendation": "recsys-small",
}


def scenario_name(scenario: str | None, task: str | None) -> str:
    """``--scenario`` if given, else the default scenario of ``--task``, else digits."""
    if task is not None and task not in DEFAULT_SCENARIO:
        raise ObliviateError(f"unknown --task {task!r}; kinds: {', '.join(DEFAULT_SCENARIO)}")
    if scenario is not None:
        return scenario
    return DEFAULT_SCENARIO[task or "classification"]
