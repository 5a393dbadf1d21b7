"""What every attack measures: forgetting of one model on (part of) the forget set.

The experiment says what that is for its kind (``Experiment.forget_score``): accuracy on
forget samples for a classifier, exact-match answers to the forget questions for a language
model (a whole answer reproduced by greedy decoding; token accuracy is inflated by filler
words), in %. Lower means more forgotten; the oracle's value is the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from obliviate.experiment import Experiment
from obliviate.types import Split

ROLES = ("original", "unlearned", "oracle")


@dataclass(frozen=True)
class Target:
    """A finished run as attacks see it: its experiment and its three models."""

    data: Experiment
    models: dict[str, nn.Module]
    seed: int

    @property
    def kind(self) -> str:
        return self.data.kind

    @property
    def metric(self) -> str:
        return self.data.forget_metric

    def forget_rows(self) -> Split:
        """The forget samples an attack scores (question rows for a language model)."""
        return self.data.attack_rows()

    def groups(self, rows: Split) -> np.ndarray:
        """A group id per row: rows of one group are shown or held out together."""
        return self.data.attack_groups(rows)

    def score(self, model: nn.Module, rows: Split) -> float:
        """The experiment's forget score on ``rows``, in %."""
        return self.data.forget_score(model, rows)


def before_after(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    return {"before": before, "after": after}
