"""The model cache: exact round trips, corrupt entries rebuilt, atomic writes, safe loading."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import obliviate.storage.cache as cache_mod
from obliviate.errors import CacheError
from obliviate.storage.cache import ModelCache, checkpoint_state

KEY = "0123abcd"


def _model(seed: int, out: int = 2) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, out))


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture
def cache(tmp_path: Path) -> ModelCache:
    return ModelCache(tmp_path / "cache")


def test_round_trip_is_exact(cache: ModelCache) -> None:
    src = _model(0)
    cache.save(KEY, src, {"role": "original", "seconds": 1.5})
    dst = _model(1)
    assert not _same(_state(src), _state(dst))
    meta = cache.load(KEY, dst)
    assert meta is not None
    assert _same(_state(src), _state(dst))
    weights = cache.root / KEY / "model.safetensors"
    assert meta == {"role": "original", "seconds": 1.5, "format": 1,
                    "sha256": hashlib.sha256(weights.read_bytes()).hexdigest()}


def test_save_replaces_an_existing_entry(cache: ModelCache) -> None:
    cache.save(KEY, _model(0), {"n": 1})
    cache.save(KEY, _model(2), {"n": 2})
    dst = _model(1)
    meta = cache.load(KEY, dst)
    assert meta is not None and meta["n"] == 2
    assert _same(_state(dst), _state(_model(2)))
    assert sorted(p.name for p in cache.root.iterdir()) == [KEY]


def test_absent_key(cache: ModelCache) -> None:
    model = _model(0)
    before = _state(model)
    assert cache.load("missing", model) is None
    assert _same(before, _state(model))


def _flip_bytes(entry: Path) -> None:
    w = entry / "model.safetensors"
    data = bytearray(w.read_bytes())
    for i in (-1, -5, -9):  # inside the last tensor's data, after the header
        data[i] ^= 0xFF
    w.write_bytes(bytes(data))


def _truncate(entry: Path) -> None:
    w = entry / "model.safetensors"
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])


def _delete_meta(entry: Path) -> None:
    (entry / "meta.json").unlink()


def _wrong_sha(entry: Path) -> None:
    meta = json.loads((entry / "meta.json").read_text())
    meta["sha256"] = "0" * 64
    (entry / "meta.json").write_text(json.dumps(meta))


def _wrong_format(entry: Path) -> None:
    meta = json.loads((entry / "meta.json").read_text())
    meta["format"] = 99
    (entry / "meta.json").write_text(json.dumps(meta))


def _garbled_meta(entry: Path) -> None:
    (entry / "meta.json").write_text("{not json")


def _delete_weights(entry: Path) -> None:
    (entry / "model.safetensors").unlink()


@pytest.mark.parametrize("damage", [_flip_bytes, _truncate, _delete_meta, _wrong_sha,
                                    _wrong_format, _garbled_meta, _delete_weights])
def test_damaged_entry_is_reported_and_removed(cache: ModelCache,
                                               caplog: pytest.LogCaptureFixture,
                                               damage: Callable[[Path], None]) -> None:
    cache.save(KEY, _model(0), {"role": "original"})
    damage(cache.root / KEY)
    model = _model(1)
    before = _state(model)
    with caplog.at_level(logging.WARNING, logger="obliviate"):
        assert cache.load(KEY, model) is None
    warnings = [r for r in caplog.records
                if r.name == "obliviate" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert KEY in warnings[0].getMessage() and "corrupt" in warnings[0].getMessage()
    assert not (cache.root / KEY).exists()
    assert _same(before, _state(model))  # the checksum fails before anything is copied


def test_entry_for_another_architecture_is_rejected(cache: ModelCache,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """Same parameter names, last layer 4x2 in the file but 4x3 in the model."""
    cache.save(KEY, _model(0, out=2), {})
    with caplog.at_level(logging.WARNING, logger="obliviate"):
        assert cache.load(KEY, _model(1, out=3)) is None
    assert any("corrupt" in r.getMessage() for r in caplog.records)
    assert not (cache.root / KEY).exists()


def test_rejected_entry_leaves_the_model_untouched(cache: ModelCache) -> None:
    cache.save(KEY, _model(0, out=2), {})
    model = _model(1, out=3)
    before = _state(model)
    assert cache.load(KEY, model) is None
    assert _same(before, _state(model))


def test_root_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(CacheError, match="exists but is not a directory"):
        ModelCache(tmp_path / "f")


def test_save_is_atomic(cache: ModelCache, monkeypatch: pytest.MonkeyPatch) -> None:
    """save_model writes half a file and then fails: no entry and no temporary directory."""
    def half_then_fail(model: torch.nn.Module, path: str) -> None:
        Path(path).write_bytes(b"\x00" * 16)
        raise OSError("disk full")

    monkeypatch.setattr(cache_mod, "save_model", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        cache.save(KEY, _model(0), {})
    assert list(cache.root.iterdir()) == []


def test_failed_save_keeps_the_old_entry(cache: ModelCache,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    cache.save(KEY, _model(0), {"n": 1})

    def fail(model: torch.nn.Module, path: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_mod, "save_model", fail)
    with pytest.raises(KeyboardInterrupt):
        cache.save(KEY, _model(2), {"n": 2})
    assert sorted(p.name for p in cache.root.iterdir()) == [KEY]
    dst = _model(1)
    meta = cache.load(KEY, dst)
    assert meta is not None and meta["n"] == 1
    assert _same(_state(dst), _state(_model(0)))


# ---------------------------------------------------------------------------------------------
# checkpoint_state


def test_checkpoint_state_pt(tmp_path: Path) -> None:
    src = _model(0)
    torch.save(src.state_dict(), tmp_path / "w.pt")
    assert _same(checkpoint_state(tmp_path / "w.pt"), _state(src))


def test_checkpoint_state_safetensors(tmp_path: Path) -> None:
    src = _model(0)
    save_file(_state(src), str(tmp_path / "w.safetensors"))
    assert _same(checkpoint_state(tmp_path / "w.safetensors"), _state(src))


RAN: list[str] = []


def _mark() -> str:
    RAN.append("code ran")
    return "payload"


class _Payload:
    """Unpickling this calls ``_mark``: proof that code from the file would execute."""

    def __reduce__(self) -> tuple[Callable[[], str], tuple[()]]:
        return (_mark, ())


def test_checkpoint_state_refuses_pickled_objects(tmp_path: Path) -> None:
    torch.save({"w": torch.zeros(2), "x": _Payload()}, tmp_path / "evil.pt")
    RAN.clear()
    with pytest.raises(CacheError, match="evil.pt as weights only"):
        checkpoint_state(tmp_path / "evil.pt")
    assert RAN == []


def test_checkpoint_state_refuses_non_dict(tmp_path: Path) -> None:
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    with pytest.raises(CacheError, match="list.pt: expected a state dict"):
        checkpoint_state(tmp_path / "list.pt")
