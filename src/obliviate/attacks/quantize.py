"""Quantization attack: round the weights to 8 and 4 bits and measure forgetting again.

Zhang et al., "Does your LLM truly unlearn? An embarrassingly simple approach to recover
unlearned knowledge" (ICLR 2025): methods that forget through small weight changes keep the
original's weights within half a quantization step, so rounding maps both models to the same
grid and the knowledge returns. Round-to-nearest, symmetric, one scale per output channel
(the paper's RTN baseline), applied to every Linear, Conv and GPT-2 Conv1D weight; biases,
norms and embeddings keep full precision (a tied GPT-2 output layer is a Linear, so the
shared embedding matrix is quantized through it, as quantizing that layer does).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

from obliviate.attacks.target import Target


@dataclass(frozen=True)
class QuantizeConfig:
    bits: tuple[int, ...] = (8, 4)  # the paper's settings

    def __post_init__(self) -> None:
        bad = [b for b in self.bits if not isinstance(b, int) or not 2 <= b <= 16]
        if not self.bits or bad:
            raise ValueError(f"QuantizeConfig: bits={self.bits} must be integers in [2, 16]")


def quantize_rtn(weight: torch.Tensor, bits: int, channel_dim: int = 0) -> torch.Tensor:
    """Symmetric round-to-nearest with one scale per slice along ``channel_dim``.

    scale_c = max|w_c| / (2^(bits-1) - 1);  q(w) = clamp(round(w / scale_c)) * scale_c.
    An all-zero channel stays zero.
    """
    levels = 2 ** (bits - 1) - 1
    w = weight.detach().movedim(channel_dim, 0)
    flat = w.reshape(w.shape[0], -1)
    scale = flat.abs().amax(dim=1, keepdim=True) / levels
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = torch.clamp(torch.round(flat / safe), -levels, levels) * scale
    return q.reshape(w.shape).movedim(0, channel_dim).to(weight.dtype)


def quantized(model: nn.Module, bits: int) -> nn.Module:
    """A copy of ``model`` whose layer weights are quantized to ``bits`` bits per channel."""
    out = copy.deepcopy(model)
    with torch.no_grad():
        for module in out.modules():
            if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)):
                module.weight.copy_(quantize_rtn(module.weight, bits, channel_dim=0))
            elif isinstance(module, Conv1D):  # GPT-2 stores (in, out): channels are columns
                module.weight.copy_(quantize_rtn(module.weight, bits, channel_dim=1))
    return out.eval()


def attack(target: Target, cfg: QuantizeConfig) -> dict[str, Any]:
    rows = target.forget_rows()
    before = {r: target.score(m, rows) for r, m in target.models.items()}
    return {"variants": {f"{b}-bit": {"before": before,
                                      "after": {r: target.score(quantized(m, b), rows)
                                                for r, m in target.models.items()}}
                         for b in cfg.bits}}
