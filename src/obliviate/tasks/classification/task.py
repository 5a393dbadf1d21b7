"""The classification task: a model maps inputs to class logits."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from obliviate.types import Batch


@dataclass(frozen=True)
class ClassificationTask:
    """Classification adapter (DESIGN.md table, first column)."""

    n_classes: int
    name: str = "classification"

    def __post_init__(self) -> None:
        if self.n_classes < 2:
            raise ValueError(f"a classification task needs >= 2 classes, got {self.n_classes}")

    def per_sample_loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        return F.cross_entropy(model(batch.inputs), batch.targets, reduction="none")

    def log_likelihood(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        logp = F.log_softmax(model(batch.inputs), dim=-1)
        return logp.gather(1, batch.targets[:, None]).squeeze(1)

    def logits(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        out: torch.Tensor = model(batch.inputs)
        return out

    def alternative_targets(self, model: nn.Module, batch: Batch,
                            generator: torch.Generator) -> Batch:
        """A uniformly random class other than the true one (the RL baseline's relabelling)."""
        shift = torch.randint(1, self.n_classes, batch.targets.shape, generator=generator)
        return batch.with_targets((batch.targets + shift.to(batch.targets.device))
                                  % self.n_classes)

    def hidden(self, model: nn.Module, batch: Batch, module: str) -> torch.Tensor:
        return hidden_output(model, module, lambda: model(batch.inputs))


def hidden_output(model: nn.Module, module: str, run: object) -> torch.Tensor:
    """Output of submodule ``module`` captured by a forward hook while ``run()`` executes."""
    names = dict(model.named_modules())
    if module not in names:
        valid = ", ".join(n for n in names if n) or "(none)"
        raise KeyError(f"model has no module {module!r}; modules: {valid}")
    captured: list[torch.Tensor] = []

    def hook(_m: nn.Module, _inp: object, out: object) -> None:
        # Transformer blocks return tuples whose first element is the hidden state.
        captured.append(out[0] if isinstance(out, tuple) else out)  # type: ignore[arg-type]

    handle = names[module].register_forward_hook(hook)
    try:
        run()  # type: ignore[operator]
    finally:
        handle.remove()
    return captured[-1]
