"""The regression task: a model maps features to one real number, the standardised target.

Scenarios standardise targets by the training targets' mean and standard deviation
(``scenario.py``), so a method sees targets of mean 0 and variance 1 whatever their units;
``mean`` and ``std`` below are those of the training targets in the units the model predicts.

What each quantity of the ``Task`` protocol is here (DESIGN.md's table, a third column):

* per-sample loss: the squared error (y_hat - y)^2, the loss the original and the oracle are
  trained with (mean squared error, as Tarun et al. 2023 report);
* log-likelihood: -(y_hat - y)^2 / 2, the log-density of y under a Gaussian centred at the
  prediction with unit variance in standardised units (the training targets' variance),
  without the constant -log(2 pi) / 2;
* logits: the prediction as an (N, 1) "output distribution". A softmax over one value is
  always 1, so KL-based distillation (bad_teacher, SCRUB) gets a zero divergence and zero
  gradients from it: those methods are not registered for regression (``methods``).
  Tarun et al.'s Blindspot method is the regression form of bad teaching and matches outputs
  directly (L1 distance) instead;
* alternative targets: a target drawn from N(mean, std^2), the Gaussian fitted to the training
  targets, as random-label unlearning draws a random class: a plausible target that carries
  nothing of the sample (Tarun et al.'s Gaussian fine-tuning draws its forget labels the same
  way);
* hidden: the output of a named submodule (``body`` is the penultimate features).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from obliviate.tasks.classification.task import hidden_output
from obliviate.types import Batch


@dataclass(frozen=True)
class RegressionTask:
    mean: float = 0.0  # of the training targets, in the units the model predicts
    std: float = 1.0
    name: str = "regression"

    def __post_init__(self) -> None:
        if not self.std > 0:
            raise ValueError(f"a regression task needs a target std > 0, got {self.std}")

    def predict(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        """(B,) predictions: the model's single output per sample."""
        out: torch.Tensor = model(batch.inputs)
        if out.ndim != 2 or out.shape[1] != 1:
            raise ValueError(f"a regression model must output (batch, 1), got "
                             f"{tuple(out.shape)}")
        return out[:, 0]

    def per_sample_loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        return (self.predict(model, batch) - batch.targets.to(torch.float32)) ** 2

    def log_likelihood(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        return -0.5 * self.per_sample_loss(model, batch)

    def logits(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        return self.predict(model, batch)[:, None]

    def alternative_targets(self, model: nn.Module, batch: Batch,
                            generator: torch.Generator) -> Batch:
        """Targets drawn from N(mean, std^2): the training targets' Gaussian."""
        z = torch.randn(batch.targets.shape, generator=generator)
        return batch.with_targets((self.mean + self.std * z).to(batch.targets.device,
                                                                batch.targets.dtype))

    def hidden(self, model: nn.Module, batch: Batch, module: str) -> torch.Tensor:
        return hidden_output(model, module, lambda: model(batch.inputs))
