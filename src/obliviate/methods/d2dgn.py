"""D2DGN: "Distill to Delete: Unlearning in Graph Networks with Knowledge Distillation".

Sinha, Mandal and Kankanhalli, arXiv:2309.16173 (2023). The graph's knowledge is divided
into a retained and a deleted part. A *preserver* (the trained original, frozen) holds the
retained knowledge and a *destroyer* (the same architecture, randomly initialised, frozen)
stands for "knowing nothing" about the deleted elements; the student (the unlearned model)
is distilled from both, with response-based soft targets (KL divergence of the class
posteriors) and feature-based knowledge (MSE between node embeddings):

    Loss = alpha * Loss_r + (1 - alpha) * Loss_f
    Loss_r = KL(p_preserver || p_student) + w_feat * MSE(h_student, h_preserver)   on D_r
    Loss_f = KL(p_destroyer || p_student) + w_feat * MSE(h_student, h_destroyer)   on D_f

On the graph task: the student learns D_r (the retained training nodes) on the retained
graph and D_f (the deleted nodes; for an edge request, the training nodes at the ends of the
deleted edges) on the training graph, where the deleted elements are; the preserver's
knowledge of D_r is read on the complete graph (``retained_from``), the destroyer's of D_f
on the training graph. Every step is a full-graph step over all of D_r and D_f, as the
paper's GNNs are trained.

Sources, field by field. We could read the paper's abstract and summary (the loss above,
both kinds of knowledge, the preserver/destroyer split) but not its experimental section;
the remaining defaults follow OpenGU's reimplementation (Fan et al. 2025,
``unlearning/unlearning_methods/D2DGN/d2dgn.py`` and ``task/D2DGNTrainer.py``), which
resets the student, uses alpha 0.5, Adam, the destroyer as an untrained copy and
``reduction="batchmean"`` KL, and trains the student for the run's ``num_epochs`` (100).
OpenGU runs either the KL or the MSE objective; the paper's abstract names both, so both
are on by default, with equal weight (ours).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from obliviate.errors import ObliviateError
from obliviate.losses import kl_to_teacher
from obliviate.methods.common import (
    check_fraction,
    check_nonnegative,
    check_positive,
    device_of,
    fresh_weights,
)
from obliviate.tasks.graph.graphs import TRAINING
from obliviate.tasks.graph.task import GraphTask
from obliviate.types import Batch, Split, Task, UnlearnData, UnlearnResult

INITS = ("random", "original")
READS = ("complete", "retained")
_DESTROYER_STREAM = 0x64657374  # "dest": the destroyer's weights, apart from the student's


@dataclass(frozen=True)
class D2DGNConfig:
    alpha: float = 0.5  # paper's Loss = alpha Loss_r + (1 - alpha) Loss_f; OpenGU alpha=0.5
    epochs: int = 100  # OpenGU: the student trains for num_epochs (default 100) steps
    lr: float = 0.01  # Adam; OpenGU uses the GCN's own training lr (Kipf & Welling: 0.01)
    weight_decay: float = 5e-4  # OpenGU: the model config's decay (Kipf & Welling: 5e-4)
    temperature: float = 1.0  # OpenGU distils plain softmax posteriors (T = 1)
    feature_weight: float = 1.0  # the embedding-MSE terms beside the KL terms (ours: equal)
    embedding: str = "conv1"  # the module whose output is a node's embedding (the GCN's
    # hidden layer; OpenGU matches every layer's output)
    student_init: str = "random"  # OpenGU: self.model.reset_parameters() before distilling;
    # "original": start from the original's weights instead (cheaper, ours)
    retained_from: str = "complete"  # where the preserver's knowledge of D_r is read: the
    # complete (training) graph, whose knowledge the paper divides, as OpenGU reads it
    # (``self.preserver.model(self.data.x, self.data.edge_index)``); "retained": the graph
    # after the deletion

    def __post_init__(self) -> None:
        check_positive("D2DGNConfig", epochs=self.epochs, lr=self.lr,
                       temperature=self.temperature)
        check_nonnegative("D2DGNConfig", weight_decay=self.weight_decay,
                          feature_weight=self.feature_weight)
        check_fraction("D2DGNConfig", alpha=self.alpha)
        if self.student_init not in INITS:
            raise ValueError(f"D2DGNConfig: student_init={self.student_init!r}; valid: "
                             f"{', '.join(INITS)}")
        if self.retained_from not in READS:
            raise ValueError(f"D2DGNConfig: retained_from={self.retained_from!r}; valid: "
                             f"{', '.join(READS)}")


def d2dgn_loss(student: tuple[torch.Tensor, torch.Tensor],
               preserver: tuple[torch.Tensor, torch.Tensor],
               destroyer: tuple[torch.Tensor, torch.Tensor],
               student_f: tuple[torch.Tensor, torch.Tensor], cfg: D2DGNConfig,
               ) -> torch.Tensor:
    """``alpha * Loss_r + (1 - alpha) * Loss_f``; each argument is (logits, embeddings),
    ``student``/``preserver`` on D_r and ``student_f``/``destroyer`` on D_f.

    KL(teacher || student) at ``temperature`` (``losses.kl_to_teacher``: the mean over rows,
    PyTorch's ``batchmean``, times T^2) plus ``feature_weight`` times the mean squared
    difference of the embeddings (``F.mse_loss``).
    """
    def part(s: tuple[torch.Tensor, torch.Tensor], t: tuple[torch.Tensor, torch.Tensor],
             ) -> torch.Tensor:
        return (kl_to_teacher(s[0], t[0], cfg.temperature)
                + cfg.feature_weight * F.mse_loss(s[1], t[1]))

    return cfg.alpha * part(student, preserver) + (1 - cfg.alpha) * part(student_f, destroyer)


def _whole(split: Split, dev: torch.device) -> Batch:
    return Batch(split.inputs, split.targets, split.mask).to(dev)


def _on_complete_graph(batch: Batch) -> Batch:
    """The batch's nodes on the training graph (``tasks.graph.task``: column 1 is the view)."""
    inputs = batch.inputs.clone()
    inputs[:, 1] = TRAINING
    return Batch(inputs, batch.targets, batch.mask)


def _knowledge(task: Task, model: nn.Module, batch: Batch, cfg: D2DGNConfig,
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, embeddings) of ``batch``; without the feature term the embeddings are not
    computed (each costs another pass over the graph), a zero stands in."""
    logits = task.logits(model, batch)
    if cfg.feature_weight == 0:
        return logits, torch.zeros((), device=logits.device)
    return logits, task.hidden(model, batch, cfg.embedding)


def _frozen(model: nn.Module) -> nn.Module:
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


def unlearn(model: nn.Module, data: UnlearnData, cfg: D2DGNConfig, *, task: Task,
            seed: int) -> UnlearnResult:
    dev = device_of(model)
    preserver = _frozen(copy.deepcopy(model))
    destroyer = copy.deepcopy(model)
    fresh_weights(destroyer, int(np.random.default_rng([seed, _DESTROYER_STREAM])
                                 .integers(2**31)))
    destroyer = _frozen(destroyer)
    if cfg.student_init == "random":
        fresh_weights(model, seed)  # as retrain starts: the run's seed
    retain, forget = _whole(data.retain, dev), _whole(data.forget, dev)
    if not isinstance(task, GraphTask):
        raise ObliviateError(f"d2dgn distils node outputs of a graph; the {task.name!r} task "
                             "has none")
    with torch.no_grad():
        kept = _knowledge(task, preserver, retain if cfg.retained_from == "retained" else
                          _on_complete_graph(retain), cfg)
        deleted = _knowledge(task, destroyer, forget, cfg)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr,
                           weight_decay=cfg.weight_decay)
    model.train()
    loss = torch.zeros(())
    for _ in range(cfg.epochs):
        loss = d2dgn_loss(_knowledge(task, model, retain, cfg), kept, deleted,
                          _knowledge(task, model, forget, cfg), cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    return UnlearnResult(model, {"final_loss": float(loss.detach())})
