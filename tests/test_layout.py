"""The pipeline never asks which kind of model it holds (DESIGN.md, "Two protocols"), and the
layout shows it: one package per kind, no ``*_lm`` twins at the top level."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SRC = Path(__file__).parent.parent / "src" / "obliviate"
PIPELINE = [SRC / "runner.py", SRC / "runconfig.py", SRC / "sequential.py",
            *sorted((SRC / "attacks").glob("*.py"))]

# isinstance on scenario data, hasattr probes, and comparisons with a kind's name.
KIND_CHECKS = [
    (re.compile(r"isinstance\([^)]*(Data|Scenario|Experiment)\b"), "isinstance on scenario data"),
    (re.compile(r"\bhasattr\("), "a hasattr probe"),
    (re.compile(r"""(==|!=|\bin)\s*\(?\s*["'](lm|classification|causal_lm|regression|graph|"""
                r"""recommendation)["']"""), "a comparison with a kind's name"),
    (re.compile(r"""["'](lm|classification|causal_lm)["']\s*(==|!=)"""),
     "a comparison with a kind's name"),
    (re.compile(r"\b_?is_lm\b"), "an is_lm flag"),
]


def kind_checks(text: str) -> list[str]:
    """Every line of ``text`` that asks which kind it holds, with the reason."""
    found = []
    for n, line in enumerate(text.splitlines(), start=1):
        code = line.split("#", 1)[0]
        for pattern, why in KIND_CHECKS:
            if pattern.search(code):
                found.append(f"line {n}: {why}: {line.strip()}")
    return found


@pytest.mark.parametrize("path", PIPELINE, ids=lambda p: str(p.relative_to(SRC)))
def test_pipeline_never_asks_which_kind_it_holds(path: Path) -> None:
    assert kind_checks(path.read_text()) == []


def test_the_check_catches_each_kind_of_question() -> None:
    """Made to fail: lines the runner had before the Experiment protocol."""
    old = "\n".join([
        "    if isinstance(data, PeopleData):",
        "        return hasattr(self.data, 'corpus')",
        "    get_method(spec.method, task='causal_lm' if scenario.kind == 'lm' else 'x')",
        "    if _is_lm(data):",
        "    ok = scenario.kind != \"classification\"",
    ])
    assert len(kind_checks(old)) == 5
    assert kind_checks("x = exp.kind  # == 'lm' in a comment is fine") == []


def test_no_lm_twins_at_the_top_level() -> None:
    twins = sorted(p.name for p in SRC.glob("*_lm.py")) + sorted(
        p.name for p in SRC.glob("*lm_*.py"))
    assert twins == []


def test_every_kind_is_a_package_with_its_pieces() -> None:
    for kind in ("classification", "causal_lm"):
        pkg = SRC / "tasks" / kind
        assert {"__init__.py", "task.py", "scenario.py", "training.py", "evaluation.py",
                "probe.py"} <= {p.name for p in pkg.glob("*.py")}, kind
