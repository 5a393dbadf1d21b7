"""Bugs found in review, each pinned by a test that fails today (strict xfail).

When a bug is fixed its test starts passing, strict xfail turns that into a failure, and
the marker should be removed. Every test here avoids training (or reuses the session's
tiny MLP pair), so the file runs in a few seconds.
"""

from __future__ import annotations

import copy
import importlib.util
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch

from obliviate import runner
from obliviate.cli import main
from obliviate.errors import DataError, ForgetSetError, ObliviateError
from obliviate.runner import RunSpec, Workspace, run
from obliviate.scenarios import SCENARIOS
from obliviate.storage.store import Store, sqlite_url
from obliviate.tasks.classification.forget import select_forget
from obliviate.tasks.classification.pool import make_pool
from obliviate.tasks.classification.user import load_user_pool

# GA at the paper's lr: the digits preset (tuned for the CNN) diverges on the tiny MLP.
_GA = RunSpec("ga", "class:3", model="mlp", use_preset=False)


def _no_training(*a: object, **k: object) -> None:
    raise AssertionError("bad input reached training: it should have been refused up front")


def _cli(home: Path, *argv: str) -> int:
    return main(["--home", str(home), "--quiet", *argv])


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("obliviate: error:"), err


def _npz(path: Path, x: object, y: object) -> str:
    np.savez(path, X=x, y=y)
    return str(path)


# --- tracebacks instead of "obliviate: error:" and exit code 2 ------------------------------

@pytest.mark.parametrize("seed", ["-1", str(2**64)])
def test_bad_seed_is_refused_before_training(tmp_path: Path, seed: str,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("obliviate.tasks.classification.training.train", _no_training)
    assert _cli(tmp_path / "h", "run", "--forget", "class:3", "--method", "ga",
                "--model", "mlp", "--seed", seed) == 2
    _one_line_error(capsys)


def test_cnn_on_feature_vectors_is_one_line_error(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("obliviate.tasks.classification.training.train", _no_training)
    rng = np.random.default_rng(0)
    data = _npz(tmp_path / "f.npz", rng.normal(size=(60, 4)), np.arange(60) % 3)
    assert _cli(tmp_path / "h", "run", "--data", data, "--model", "cnn",
                "--forget", "class:0", "--method", "ga") == 2
    _one_line_error(capsys)


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
def test_images_too_small_for_the_cnn_are_one_line_error(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("obliviate.tasks.classification.training.train", _no_training)
    rng = np.random.default_rng(0)
    data = _npz(tmp_path / "img.npz", rng.random((60, 1, 1)), np.arange(60) % 3)
    assert _cli(tmp_path / "h", "run", "--data", data, "--forget", "class:0",
                "--method", "ga") == 2
    _one_line_error(capsys)


def test_npz_with_scalar_x_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        load_user_pool(_npz(tmp_path / "s.npz", np.float64(3.0), np.arange(30) % 2))


def test_too_few_rows_after_deduplication_is_one_line_error(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           ) -> None:
    monkeypatch.setattr("obliviate.tasks.classification.training.train", _no_training)
    x = np.repeat(np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]]), 10, axis=0)
    data = _npz(tmp_path / "dups.npz", x, np.repeat([0, 1, 1], 10))
    assert _cli(tmp_path / "h", "run", "--data", data, "--forget", "random:0.5",
                "--method", "ga") == 2
    _one_line_error(capsys)


@pytest.mark.parametrize("rows", [np.array(["1", "2"]), np.array([1 + 0j, 2 + 0j])])
def test_non_numeric_indices_npy_is_one_line_error(tmp_path: Path, rows: np.ndarray,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("obliviate.tasks.classification.training.train", _no_training)
    np.save(tmp_path / "rows.npy", rows)
    assert _cli(tmp_path / "h", "run", "--model", "mlp", "--method", "ga",
                "--forget", f"indices:{tmp_path / 'rows.npy'}") == 2
    _one_line_error(capsys)


def test_bad_threads_env_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBLIVIATE_THREADS", "abc")
    assert _cli(tmp_path / "h", "list") == 2
    _one_line_error(capsys)


def test_store_url_without_driver_is_one_line_error(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    if importlib.util.find_spec("pysqlcipher3") is not None:
        pytest.skip("needs a dialect whose driver is not installed")
    assert main(["--home", str(tmp_path / "h"), "--store",
                 f"sqlite+pysqlcipher://:pw@/{tmp_path / 'x.db'}", "runs"]) == 2
    _one_line_error(capsys)


# --- results lost after the slow part ------------------------------------------------------

def test_unwritable_runs_dir_is_an_obliviate_error(tmp_path: Path, fresh: runner.Trained,
                                                   ) -> None:
    ws = Workspace(tmp_path / "h")
    ws.home.mkdir()
    (ws.home / "runs").write_text("a file where the runs directory should be")
    with pytest.raises(ObliviateError):
        run(_GA, ws, trained=fresh, progress=False)


def test_locked_store_is_an_obliviate_error(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite"
    store = Store(sqlite_url(db) + "?timeout=0.05")
    record = {"run_id": "r1", "created": "2026-01-01T00:00:00", "metrics": {},
              "scenario": {"name": "digits", "forget": "class:3", "seed": 0},
              "method": {"name": "ga"}, "efficiency": {}}
    other = sqlite3.connect(db, timeout=0.05)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(ObliviateError):
            store.add(record, tmp_path / "r1.json")
    finally:
        other.rollback()
        other.close()
        store.engine.dispose()


def test_runs_lists_a_record_without_avg_gap(tmp_path: Path) -> None:
    home = tmp_path / "h"
    home.mkdir()
    store = Store(sqlite_url(home / "runs.sqlite"))
    store.add({"run_id": "r1", "created": "2026-01-01T00:00:00", "metrics": {},
               "scenario": {"name": "people", "forget": "random:0.1", "seed": 0},
               "method": {"name": "ga"}, "efficiency": {}}, home / "r1.json")
    store.engine.dispose()
    assert _cli(home, "runs") == 0


# --- wrong data forgotten -----------------------------------------------------------------

def _pool_with_labels(labels: np.ndarray) -> tuple[object, np.ndarray]:
    x = np.arange(len(labels) * 2, dtype=np.float32).reshape(len(labels), 2)
    classes, y = np.unique(labels, return_inverse=True)
    pool = make_pool("t", x, y, tuple(str(c) for c in classes))
    return pool, np.arange(len(labels))


def test_boolean_mask_indices_file_is_refused(tmp_path: Path) -> None:
    pool, train = _pool_with_labels(np.arange(30) % 3)
    mask = np.zeros(30, dtype=bool)
    mask[10:15] = True  # the user means rows 10..14
    np.save(tmp_path / "mask.npy", mask)
    with pytest.raises(ForgetSetError):
        select_forget(f"indices:{tmp_path / 'mask.npy'}", pool, train, 0)  # type: ignore[arg-type]


def test_class_selector_with_numeric_names_never_aliases(tmp_path: Path) -> None:
    pool, train = _pool_with_labels(np.arange(30) % 3 + 1)  # labels 1, 2, 3
    with pytest.raises(ForgetSetError):
        select_forget("class:0", pool, train, 0)  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_values_that_overflow_float32_are_a_data_error(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(40, 3)), np.full((40, 1), 1e300)], axis=1)
    with pytest.raises(DataError):
        load_user_pool(_npz(tmp_path / "huge.npz", x, np.arange(40) % 2))


# --- non-determinism ----------------------------------------------------------------------

def test_same_original_key_means_same_training_stream() -> None:
    digits = SCENARIOS["digits"]
    a, b = digits.build("class:3", 0), digits.build("random:0.1", 0)
    sa, sb = a.train_split(), b.train_split()
    same_key = a.model_key("original") == b.model_key("original")
    assert not same_key or (np.array_equal(sa.ids, sb.ids)
                            and torch.equal(sa.targets, sb.targets))


# --- device -------------------------------------------------------------------------------

def test_run_uses_the_models_device(tmp_path: Path, fresh: runner.Trained,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Methods and evaluation follow the model's device, not ``runner.device()``: with the
    latter pointing at a device nothing could run on, the run's numbers are unchanged."""
    plain, _ = run(_GA, Workspace(tmp_path / "a"), trained=copy.deepcopy(fresh),
                   progress=False)
    monkeypatch.setattr(runner, "device", lambda: torch.device("meta"))
    record, _ = run(_GA, Workspace(tmp_path / "h"), trained=fresh, progress=False)
    for name in ("UA", "RA", "TA", "MIA-Eff"):
        assert record["metrics"][name]["unlearned"] == plain["metrics"][name]["unlearned"]
