"""What every attack measures: forgetting of one model on (part of) the forget set.

Classifiers: accuracy on forget samples, in %. Language models: exact-match answers to the
forget questions, in % (a whole answer reproduced by greedy decoding; token accuracy is
inflated by filler words). Lower means more forgotten; the oracle's value is the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from obliviate.lm_training import exact_match
from obliviate.methods.retrain import qa_rows
from obliviate.metrics.classification import accuracy
from obliviate.metrics.probes import probe
from obliviate.types import Split

ROLES = ("original", "unlearned", "oracle")


@dataclass(frozen=True)
class Target:
    """A finished run as attacks see it: its data and its three models."""

    data: Any  # ScenarioData or PeopleData
    models: dict[str, nn.Module]
    seed: int

    @property
    def is_lm(self) -> bool:
        return hasattr(self.data, "corpus")

    @property
    def metric(self) -> str:
        return "forget exact match" if self.is_lm else "forget accuracy"

    def forget_rows(self) -> Split:
        """The forget samples an attack scores: question rows for a language model."""
        return qa_rows(self.data.forget) if self.is_lm else self.data.forget

    def groups(self, rows: Split) -> np.ndarray:
        """A group id per row: rows of one group are split together. A language model's
        group is a fact (every phrasing of one question), so relearning on one phrasing
        never counts as recovering another phrasing of the same fact; a classifier sample
        is its own group."""
        if not self.is_lm:
            return np.arange(len(rows))
        keys = [(self.data.items[int(i)].subject, self.data.items[int(i)].target)
                for i in rows.ids]
        index = {k: n for n, k in enumerate(dict.fromkeys(keys))}
        return np.array([index[k] for k in keys])

    def score(self, model: nn.Module, rows: Split) -> float:
        """Forget accuracy or exact match on ``rows``, in %."""
        if self.is_lm:
            return float(exact_match(model, rows, self.data.task).mean() * 100)
        with torch.no_grad():
            return accuracy(probe(model, rows)).value


def before_after(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    return {"before": before, "after": after}
