"""What the language-model bars say: training that reaches its target ends full with a
message, and evaluation has a bar of its own (model x stage)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest
from tqdm.auto import tqdm

from conftest import untrained_lm_pair
from obliviate.tasks.causal_lm import evaluation as evaluate_lm_mod
from obliviate.tasks.causal_lm import training as lm_training
from obliviate.tasks.causal_lm.training import LMRecipe, train_lm


class _Bar(tqdm):  # type: ignore[type-arg]
    """A tqdm that remembers itself and every step it was moved by."""

    made: list[_Bar] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.steps: list[float] = []
        super().__init__(*args, **kwargs)
        _Bar.made.append(self)

    def update(self, n: float | None = 1) -> bool | None:
        self.steps.append(1 if n is None else n)
        return super().update(n)


@pytest.fixture
def bars(monkeypatch: pytest.MonkeyPatch) -> list[_Bar]:
    _Bar.made = []
    monkeypatch.setattr(lm_training, "tqdm", _Bar)
    monkeypatch.setattr(evaluate_lm_mod, "tqdm", _Bar, raising=False)
    return _Bar.made


def test_training_that_reaches_its_target_says_so_and_ends_full(
        bars: list[_Bar], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    data = untrained_lm_pair().data
    # Every question exact from the first check on: the target is met at epoch check_every.
    monkeypatch.setattr(lm_training, "exact_match",
                        lambda model, split, task: np.ones(len(split), dtype=bool))
    recipe = LMRecipe(max_epochs=200, check_every=3, warmup_steps=1)
    with caplog.at_level(logging.INFO, logger="obliviate"):
        stats = train_lm(data.new_model(), data.train_split(), data.task, recipe, seed=0,
                         desc="train original", progress=True)
    assert stats["epochs"] == 3.0 and stats["exact_match"] == 1.0
    assert "train original: target exact match 0.95 reached at epoch 3 (exact match 1.000)" \
        in caplog.messages
    (bar,) = bars
    assert bar.n == bar.total == 3  # 100%, not 3 of 200 epochs
    assert bar.disable  # closed (tqdm disables a bar it closes)


@pytest.mark.parametrize("progress", [True, False])
def test_evaluation_has_a_bar_over_models_and_stages(bars: list[_Bar], progress: bool) -> None:
    t = untrained_lm_pair()
    models = {"original": t.original, "unlearned": t.original, "oracle": t.oracle}
    evaluate_lm_mod.evaluate_lm(models, t.data, seed=0, progress=progress)
    (bar,) = bars
    assert bar.total == 3 * 5  # 3 models x (score answers, score bios, answer, continue, grad)
    if progress:
        assert bar.n == 15
        # Probes computed now tick once per stage; one taken from the cache (a reference
        # model probed by an earlier test) moves the bar 5 at once.
        assert sorted(set(bar.steps) - {0}) in ([1], [1, 5])
        assert sum(bar.steps) == 15
    else:
        assert bar.disable
