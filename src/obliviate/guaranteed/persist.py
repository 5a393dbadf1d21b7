"""A guaranteed model's state on disk: tensors as safetensors, the rest as JSON (issue 13).

A state is ``<name>.json`` (the commit point) naming ``<name>-<sha256>.safetensors`` (the
tensors) with its checksum. The tensors are written first under a temporary name and renamed
to a name carrying their sha256; then the JSON is written to a temporary file and renamed
over the old one; then tensor files no JSON names are removed. A crash at any point leaves
the previous JSON naming a tensor file that is still there, or the new one naming its own:
never a JSON without its tensors (a failed write removes the tensor file it added).
Loading uses safetensors only, so it runs no code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TextIO

import torch
from safetensors.torch import load_file, save_file

from obliviate.storage.atomic import atomic_write, temp_file
from obliviate.storage.cache import file_sha256


def write_state(directory: str | Path, name: str, tensors: dict[str, torch.Tensor],
                meta: dict[str, Any]) -> Path:
    """Write ``tensors`` and ``meta`` as state ``name`` in ``directory``; returns the JSON."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file(d / f"{name}.safetensors")
    os.close(fd)
    try:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, tmp)
        digest = file_sha256(Path(tmp))
        weights = d / f"{name}-{digest[:16]}.safetensors"
        existed = weights.exists()  # the same tensors as the state on disk: keep the file
        os.replace(tmp, weights)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    full = {**meta, "tensors": {"file": weights.name, "sha256": digest}}

    def dump(f: TextIO) -> None:
        json.dump(full, f, indent=1, sort_keys=True, allow_nan=False)

    final = d / f"{name}.json"
    try:
        atomic_write(final, dump)
    except BaseException:
        if not existed:
            weights.unlink(missing_ok=True)
        raise
    for old in d.glob(f"{name}-*.safetensors"):
        if old.name != weights.name:
            old.unlink(missing_ok=True)
    return final


def read_state(directory: str | Path, name: str) -> tuple[dict[str, torch.Tensor],
                                                           dict[str, Any]]:
    """(tensors, meta) of state ``name``; ``ValueError`` naming the problem if it is absent,
    not JSON, or its tensor file is missing or fails its checksum."""
    path = Path(directory) / f"{name}.json"
    try:
        meta = json.loads(path.read_text())
        ref = meta.pop("tensors")
        weights = path.parent / str(ref["file"])
    except FileNotFoundError:
        raise ValueError(f"no saved state {str(path)!r}") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"saved state {str(path)!r} is unreadable ({e})") from None
    if not weights.is_file() or file_sha256(weights) != ref.get("sha256"):
        raise ValueError(f"saved state {str(path)!r}: its tensors {weights.name} are missing "
                         "or fail their sha256")
    return load_file(str(weights)), dict(meta)
