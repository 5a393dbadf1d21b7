"""Two small classifiers, whole in one screen: an MLP and a CNN.

Both expose ``body`` (inputs -> penultimate features) and ``head`` (features -> logits), so
features for the dashboard and hidden-state methods have one stable name.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class Classifier(nn.Module):
    def __init__(self, body: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.body(x))
        return out


def build_mlp(input_shape: tuple[int, ...], n_classes: int, width: int = 128) -> nn.Module:
    """Two hidden layers of ReLU units; inputs of any shape are flattened."""
    d = math.prod(input_shape)
    body = nn.Sequential(nn.Flatten(), nn.Linear(d, width), nn.ReLU(),
                         nn.Linear(width, width), nn.ReLU())
    return Classifier(body, nn.Linear(width, n_classes))


def build_cnn(input_shape: tuple[int, ...], n_classes: int, width: int = 16) -> nn.Module:
    """Two 3x3 conv layers and a max-pool, then one hidden dense layer (sized for 8x8..32x32)."""
    if len(input_shape) != 3:
        raise ValueError(f"the cnn needs (channels, height, width) inputs, got {input_shape}")
    c, h, w = input_shape
    if h < 2 or w < 2:
        raise ValueError(f"the cnn needs images of at least 2x2 pixels, got {h}x{w}")
    body = nn.Sequential(
        nn.Conv2d(c, width, 3, padding=1), nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(2 * width * (h // 2) * (w // 2), 64), nn.ReLU(),
    )
    return Classifier(body, nn.Linear(64, n_classes))
