"""The ranking task: a model scores every item for a user; a row is one (user, item) interaction.

How interactions map to the protocol (``types.Split`` / ``Batch`` / ``Task``):

* a row is one (user, positive item) training interaction: ``inputs`` the user index,
  ``targets`` the item index, ``ids`` the interaction's row in the interactions table;
* ``model(users)`` returns (B, n_items) scores, so ``logits`` are the scores of every item for
  the row's user: distillation methods (SCRUB, bad teaching) match the whole ranking's softmax;
* ``per_sample_loss`` is BPR (Rendle et al. 2009), ``-log sigmoid(s_ui - s_uj)``, with the
  negative j drawn uniformly from the other items, as sampled BPR does; instead of drawing one
  j per row we take the expectation over that draw exactly (the mean over every j != i). The
  Task has no generator argument, and retraining must rebuild the oracle bit for bit, so the
  loss must be a function of (model, row) alone; the exact mean is also the lowest-variance
  estimate of the sampled loss. Like uniform sampling without rejection, j may be another of
  the user's positives (the Task cannot know the training set, which differs between the
  original and the oracle); with ~25 positives among 300 items that is 8% of the weight;
* ``log_likelihood`` is BPR's log-likelihood of the row, ``mean_j log sigmoid(s_ui - s_uj)``
  (= -per_sample_loss), the quantity BPR-OPT maximises;
* ``alternative_targets`` replaces each row's item by a uniformly random other item (the
  random-label baseline for ranking: teach the user a preference it never expressed).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from obliviate.tasks.classification.task import hidden_output
from obliviate.types import Batch


def bpr_loss(scores: torch.Tensor, items: torch.Tensor, *, reverse: bool = False,
             ) -> torch.Tensor:
    """(B,) mean over every item j != i of ``-log sigmoid(s_ui - s_uj)`` (BPR, Rendle et al.
    2009, Eq. 6 with a uniform negative, in expectation).

    ``scores`` (B, N) every item's score for the row's user, ``items`` (B,) the positive i.
    ``reverse=True`` swaps the pair, ``-log sigmoid(s_uj - s_ui)``: MMRecUn's reverse BPR,
    which is low when the interaction ranks below the other items.
    """
    n = scores.shape[1]
    if n < 2:
        raise ValueError(f"BPR needs at least 2 items to compare, got {n}")
    pos = scores.gather(1, items[:, None])
    diff = (pos - scores) if reverse else (scores - pos)  # -log sigmoid(x) = softplus(-x)
    loss = F.softplus(diff)
    # j = i contributes softplus(0) = log 2 to the sum; it is no negative, so take it out.
    return (loss.sum(dim=1) - loss.gather(1, items[:, None]).squeeze(1)) / (n - 1)


@dataclass(frozen=True)
class RankingTask:
    """Implicit-feedback ranking adapter (the module docstring says how rows map)."""

    n_items: int
    name: str = "recommendation"

    def __post_init__(self) -> None:
        if self.n_items < 2:
            raise ValueError(f"a ranking task needs >= 2 items, got {self.n_items}")

    def per_sample_loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        return bpr_loss(model(batch.inputs), batch.targets)

    def log_likelihood(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        return -bpr_loss(model(batch.inputs), batch.targets)

    def logits(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        out: torch.Tensor = model(batch.inputs)
        return out

    def alternative_targets(self, model: nn.Module, batch: Batch,
                            generator: torch.Generator) -> Batch:
        """A uniformly random item other than the row's own."""
        shift = torch.randint(1, self.n_items, batch.targets.shape, generator=generator)
        return batch.with_targets((batch.targets + shift.to(batch.targets.device))
                                  % self.n_items)

    def hidden(self, model: nn.Module, batch: Batch, module: str) -> torch.Tensor:
        return hidden_output(model, module, lambda: model(batch.inputs))
