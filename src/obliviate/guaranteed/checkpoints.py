"""Content-addressed checkpoints for SISA: ``<key>.safetensors`` in one directory.

A key is a hash of everything that determines the weights (the rows trained on so far, the
seed, the configuration), so a checkpoint is reused exactly when its rows are unchanged.
Files are written to a temporary name and renamed; loading uses safetensors only, so a
checkpoint can never run code (DESIGN.md, "Data that must never be lost").
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from obliviate.storage.atomic import temp_file


class CheckpointStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / f"{key}.safetensors"

    def __contains__(self, key: str) -> bool:
        return self.path(key).is_file()

    def save(self, key: str, model: nn.Module) -> None:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        final = self.path(key)
        fd, tmp = temp_file(final)
        os.close(fd)
        try:
            save_file(state, tmp, metadata={"key": key})
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self, key: str, model: nn.Module) -> None:
        """Load checkpoint ``key`` into ``model`` (strict: every tensor name must match)."""
        state: dict[str, torch.Tensor] = load_file(str(self.path(key)))
        model.load_state_dict(state, strict=True)

    def remove(self, key: str) -> bool:
        """Delete a checkpoint (one trained on rows that have since been deleted)."""
        try:
            self.path(key).unlink()
        except FileNotFoundError:
            return False
        return True

    def keys(self) -> set[str]:
        return {p.name.removesuffix(".safetensors") for p in self.root.glob("*.safetensors")}


class MemoryStore:
    """``CheckpointStore``'s interface over a dict of state dicts, for a SISA ensemble that
    travels as one object (``adapter.py``: a copy of the model gets its own checkpoints, and
    ``tensors`` / ``from_tensors`` carry them through the model cache's one safetensors file)."""

    def __init__(self) -> None:
        self.states: dict[str, dict[str, torch.Tensor]] = {}

    def __contains__(self, key: str) -> bool:
        return key in self.states

    def save(self, key: str, model: nn.Module) -> None:
        self.states[key] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}

    def load(self, key: str, model: nn.Module) -> None:
        model.load_state_dict(self.states[key], strict=True)

    def remove(self, key: str) -> bool:
        return self.states.pop(key, None) is not None

    def keys(self) -> set[str]:
        return set(self.states)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {f"{key}/{name}": t for key, s in self.states.items() for name, t in s.items()}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> MemoryStore:
        store = cls()
        for flat, t in tensors.items():
            key, _, name = flat.partition("/")
            store.states.setdefault(key, {})[name] = t
        return store
