"""Exact retraining from scratch on the retain set (the oracle).

The gold standard every approximate method is measured against (Cao & Yang, "Towards
Making Systems Forget with Machine Unlearning", IEEE S&P 2015; "Retrain" in Jia et al. 2023
and Fan et al. 2024). Every parameter is re-initialised, then the model is trained on the
retain set with the recipe that trained the original, so nothing of the forget set remains.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from torch import nn
from transformers import PreTrainedModel

from obliviate.errors import ObliviateError
from obliviate.methods.common import fresh_weights, reinitialise
from obliviate.tasks.causal_lm.encoding import qa_rows
from obliviate.tasks.causal_lm.task import CausalLMTask
from obliviate.tasks.causal_lm.training import LMRecipe, train_lm
from obliviate.tasks.classification.training import train
from obliviate.types import Task, UnlearnData, UnlearnResult


@dataclass(frozen=True)
class RetrainConfig:
    # None = the original's recipe (``UnlearnData.recipe``): retraining means training the
    # same way on less data. Overriding makes a cheaper, no longer exact, retrain.
    epochs: int | None = None
    lr: float | None = None
    # None = the run's seed, which rebuilds the oracle exactly. Another seed gives a retrain
    # that differs from the oracle only in its initial weights and batch order: what an exact
    # unlearning scores against the oracle (the noise floor of oracle-relative metrics).
    init_seed: int | None = None

    def __post_init__(self) -> None:
        bad = []
        if self.epochs is not None and not self.epochs >= 1:
            bad.append(f"epochs={self.epochs} (want >= 1 or None)")
        if self.lr is not None and not self.lr > 0:
            bad.append(f"lr={self.lr} (want > 0 or None)")
        if bad:
            raise ValueError(f"RetrainConfig: {', '.join(bad)}")


def unlearn(model: nn.Module, data: UnlearnData, cfg: RetrainConfig, *, task: Task,
            seed: int) -> UnlearnResult:
    seed = seed if cfg.init_seed is None else cfg.init_seed
    if isinstance(data.recipe, LMRecipe):
        return _retrain_lm(model, data, cfg, task, seed)
    reinitialise(model, seed)
    recipe = data.recipe
    if cfg.epochs is not None:
        recipe = dataclasses.replace(recipe, epochs=cfg.epochs)
    if cfg.lr is not None:
        recipe = dataclasses.replace(recipe, lr=cfg.lr)
    model.train()
    train(model, data.retain, task, recipe, seed=seed, progress=False)
    model.eval()
    return UnlearnResult(model, {"epochs": float(recipe.epochs), "lr": recipe.lr})


def _retrain_lm(model: nn.Module, data: UnlearnData, cfg: RetrainConfig, task: Task,
                seed: int) -> UnlearnResult:
    """A causal LM trained by ``train_lm``: a fresh model of the same configuration (built the
    way ``build_gpt2`` builds one for ``seed``) trained on the retain set to the recipe's
    exact-match target. ``cfg.epochs`` overrides the recipe's ``max_epochs``."""
    recipe: LMRecipe = data.recipe  # type: ignore[assignment]  # checked by the caller
    if not isinstance(model, PreTrainedModel) or not isinstance(task, CausalLMTask):
        raise ObliviateError(f"retrain with an LMRecipe needs a Hugging Face causal LM and the "
                             f"causal_lm task, got {type(model).__name__} and {task.name!r}")
    fresh_weights(model, seed)
    if cfg.epochs is not None:
        recipe = dataclasses.replace(recipe, max_epochs=cfg.epochs)
    if cfg.lr is not None:
        recipe = dataclasses.replace(recipe, lr=cfg.lr)
    info = train_lm(model, data.retain, task, recipe, seed=seed, judge=qa_rows(data.retain),
                    progress=False)
    return UnlearnResult(model, {**info, "lr": recipe.lr})
