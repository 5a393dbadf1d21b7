"""Shadow-model membership inference on classifiers: U-LiRA and the NeurIPS 2023 score.

K models are trained on the run's training set and unlearned with the run's method and
config, and K are retrained without the forget set; they differ only in seed (weights and
batch order), the data is fixed, as in the NeurIPS 2023 challenge. Per forget example, the
attacks ask whether an unlearned model can be told from a retrained one by its confidence
(``metrics/shadow.py``). Whole-dataset MIA numbers average this leakage away (Hayes et al.
2024, "Inexact Unlearning Needs More Careful Evaluations to Avoid a False Sense of Privacy").
The run's own unlearned model and oracle are the first pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from obliviate.attacks.target import Target
from obliviate.metrics.challenge import challenge_confidence, challenge_score, forgetting_quality
from obliviate.metrics.classification import accuracy
from obliviate.metrics.shadow import logit_confidence, strict_forgetting_quality, ulira_accuracy
from obliviate.tasks.classification.probe import probe
from obliviate.tasks.classification.scenario import ScenarioData
from obliviate.types import Split


@dataclass(frozen=True)
class ShadowConfig:
    k: int = 4  # models per group (the challenge used 512; Hayes et al. several hundred)

    def __post_init__(self) -> None:
        if not (isinstance(self.k, int) and self.k >= 3):
            raise ValueError(f"ShadowConfig: k={self.k} must be an integer >= 3 (U-LiRA fits "
                             "a Gaussian to each group with one model held out)")


def _confidences(models: list[nn.Module], split: Split) -> tuple[np.ndarray, np.ndarray]:
    """(exact log-odds for U-LiRA and the strict score, the challenge's own confidences)."""
    with torch.no_grad():
        outs = [probe(m, split) for m in models]
    return (np.stack([logit_confidence(o.logits, o.labels) for o in outs]),
            np.stack([challenge_confidence(o.logits, o.labels) for o in outs]))


def _accuracy(models: list[nn.Module], split: Split) -> float:
    with torch.no_grad():
        return float(np.mean([accuracy(probe(m, split)).value for m in models]))


def attack(target: Target, pairs: list[tuple[nn.Module, nn.Module]],
           cfg: ShadowConfig) -> dict[str, Any]:
    """``pairs``: K (unlearned, retrained) models, the run's own first."""
    # Declared for classifier runs only (ATTACKS["shadow"].kinds, checked by parse_attacks).
    data = cast(ScenarioData, target.data)
    if len(pairs) != cfg.k:
        raise ValueError(f"the shadow attack needs k={cfg.k} model pairs, got {len(pairs)}")
    unlearned, retrained = [u for u, _ in pairs], [r for _, r in pairs]
    forget = data.forget
    (cu, gu), (cr, gr) = _confidences(unlearned, forget), _confidences(retrained, forget)
    acc = ulira_accuracy(cu, cr)
    quality, eps = forgetting_quality(gu, gr)
    strict, strict_eps = strict_forgetting_quality(cu, cr)
    ra = {g: _accuracy(ms, data.retain) for g, ms in (("u", unlearned), ("r", retrained))}
    ta = {g: _accuracy(ms, data.test) for g, ms in (("u", unlearned), ("r", retrained))}
    return {"values": {"U-LiRA accuracy": float(acc.mean() * 100),
                       "challenge forgetting quality F": quality,
                       "challenge score": challenge_score(quality, ra["u"], ra["r"],
                                                          ta["u"], ta["r"]),
                       "strict forgetting quality F": strict,
                       "strict score": challenge_score(strict, ra["u"], ra["r"], ta["u"],
                                                       ta["r"]),
                       "RA unlearned": ra["u"], "RA retrained": ra["r"],
                       "TA unlearned": ta["u"], "TA retrained": ta["r"]},
            "ideal": {"U-LiRA accuracy": 50.0, "challenge forgetting quality F": 1.0,
                      "strict forgetting quality F": 1.0},
            "per_sample": {"U-LiRA accuracy": [float(a) for a in acc],
                           "epsilon": [float(e) for e in eps],
                           "strict epsilon": [float(e) for e in strict_eps]},
            "params": {"k": cfg.k}}
