"""The on-disk cache of trained models, keyed by a hash of everything that determines them.

An entry is a directory ``<key>/`` holding ``model.safetensors`` and ``meta.json``; the meta
records the sha256 of the weights file. Entries are written to a temporary directory and
renamed into place, so a crash never leaves a half entry under the final name. An entry whose
meta is unreadable, whose checksum does not match, or whose tensors do not fit the model is
reported and rebuilt, never used. Weights load with safetensors: no code runs from the file.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, load_model, save_model
from torch import nn

from obliviate.errors import CacheError
from obliviate.storage.atomic import temp_dir, umask_modes

FORMAT = 1
log = logging.getLogger("obliviate")


class ModelCache:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        try:
            if self.root.exists() and not self.root.is_dir():
                raise CacheError(f"cache path {str(self.root)!r} exists but is not a "
                                 "directory")
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CacheError(f"cannot create cache directory {str(self.root)!r}: "
                             f"{e.strerror}") from None
        if not os.access(self.root, os.R_OK | os.W_OK | os.X_OK):
            raise CacheError(f"cache directory {str(self.root)!r} is not readable and writable")

    def has(self, key: str) -> bool:
        """Whether entry ``key`` is in place (an entry appears whole, by rename, or not at
        all); ``load`` still checks it before it is used."""
        return (self.root / key / "meta.json").is_file()

    def load(self, key: str, model: nn.Module) -> dict[str, Any] | None:
        """Load entry ``key`` into ``model`` and return its meta; None if absent or corrupt."""
        entry = self.root / key
        if not entry.exists():
            return None
        try:
            meta = json.loads((entry / "meta.json").read_text())
            weights = entry / "model.safetensors"
            if meta.get("format") != FORMAT or meta.get("sha256") != file_sha256(weights):
                raise ValueError("checksum or format mismatch")
            # Into a copy first: load_state_dict copies whatever fits before it raises, and a
            # rejected entry must leave the caller's model untouched. load_model handles tied
            # weights (GPT-2's embedding and output layer share one tensor).
            trial = copy.deepcopy(model).cpu()
            missing, unexpected = load_model(trial, str(weights), strict=False)
            if missing or unexpected:
                raise ValueError(f"tensor names do not match the model (missing {missing[:3]}, "
                                 f"unexpected {unexpected[:3]})")
            model.load_state_dict(trial.state_dict(), strict=True)
        except Exception as e:  # any failure means the entry cannot be trusted
            log.warning("cache entry %s is corrupt (%s); rebuilding it", key, e)
            shutil.rmtree(entry, ignore_errors=True)
            return None
        return dict(meta)

    def save(self, key: str, model: nn.Module, meta: dict[str, Any],
             export: Callable[[Path], None] | None = None) -> None:
        """Write entry ``key`` atomically (temporary directory, then rename); ``export`` may
        add files (e.g. a ``save_pretrained`` copy) to the entry before it is renamed."""
        tmp = temp_dir(self.root, f".{key}.")
        try:
            save_model(copy.deepcopy(model).cpu(), str(tmp / "model.safetensors"))
            full = {**meta, "format": FORMAT, "sha256": file_sha256(tmp / "model.safetensors")}
            (tmp / "meta.json").write_text(json.dumps(full, indent=1, sort_keys=True))
            if export is not None:
                export(tmp)
            umask_modes(tmp)
            final = self.root / key
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def checkpoint_state(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a user checkpoint without executing code: safetensors or weights-only torch.load."""
    p = Path(path)
    try:
        is_file = p.is_file()
    except OSError as e:  # a name too long, ...
        raise CacheError(f"checkpoint {str(p)!r}: {e.strerror or e}") from None
    if not is_file:
        raise CacheError(f"checkpoint {str(p)!r} does not exist")
    try:
        if p.suffix == ".safetensors":
            return load_file(str(p))
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling refusals, truncated files, foreign formats
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CacheError(f"cannot read checkpoint {p.name} as weights only "
                         f"(no code is run from a checkpoint): {first}") from None
    if not isinstance(state, dict):
        raise CacheError(f"{p.name}: expected a state dict of tensors")
    return state
