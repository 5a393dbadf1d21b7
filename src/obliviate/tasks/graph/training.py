"""How a graph's GCN is trained: the shared loop (``classification.training.train``: SGD with
momentum, cosine learning rate), on the nodes of one view.

A recipe's ``batch_size`` at least the number of training nodes makes every step a
full-graph step, as GCNs are trained (Kipf & Welling 2017); the loop's shuffling then only
reorders the rows of one batch. Using the shared loop keeps ``retrain`` exact: it trains the
re-initialised model with the same function, recipe and seed as the oracle.
"""

from __future__ import annotations

from torch import nn

from obliviate.tasks.classification.training import train
from obliviate.tasks.graph.task import GraphTask
from obliviate.types import Split, TrainRecipe


def train_gcn(model: nn.Module, rows: Split, task: GraphTask, recipe: TrainRecipe, *,
              seed: int, desc: str, progress: bool) -> nn.Module:
    return train(model, rows, task, recipe, seed=seed, desc=desc, progress=progress)
