"""Run records (versioned JSON, written atomically) and the SQLite store that indexes them."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

import obliviate.storage.records as records_mod
from obliviate.errors import ObliviateError
from obliviate.storage.records import read_record, write_record
from obliviate.storage.store import Store, sqlite_url


def _record(run_id: str = "20240101T000000-ft-abcd1234", created: str = "2024-01-01T00:00:00",
            method: str = "ft", avg_gap: float = 3.25) -> dict[str, Any]:
    """The smallest record the schema accepts, with the fields the store indexes."""
    return {
        "schema": "obliviate.run/2",
        "run_id": run_id,
        "created": created,
        "scenario": {"name": "digits", "forget": "class:3", "seed": 7},
        "method": {"name": method, "config": {"epochs": 2}},
        "metrics": {
            "UA": {"original": 1.5, "unlearned": 80.0, "oracle": 100.0},
            "Avg.Gap": {"original": 40.0, "unlearned": avg_gap, "oracle": 0.0},
        },
        "efficiency": {"seconds": 0.5, "ratio": 0.125},
        "environment": {"python": "3.x"},
    }


# ---------------------------------------------------------------------------------------------
# records


def test_write_read_round_trip(tmp_path: Path) -> None:
    rec = _record()
    path = write_record(rec, tmp_path / "runs")
    assert path == tmp_path / "runs" / f"{rec['run_id']}.json"
    assert json.loads(path.read_text()) == rec
    assert read_record(path) == rec
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [path.name]


def test_write_validates_first(tmp_path: Path) -> None:
    bad = _record()
    del bad["environment"]
    with pytest.raises(ObliviateError, match="lacks environment"):
        write_record(bad, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """json.dump writes half the text, then fails: no record and no temporary file."""
    def half_then_fail(obj: object, f: Any, **kw: object) -> None:
        f.write('{"schema": "obliviate.run/1", ')
        raise OSError("disk full")

    monkeypatch.setattr(records_mod.json, "dump", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        write_record(_record(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_failed_rewrite_keeps_old_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_record(_record(method="ft"), tmp_path)

    def fail(obj: object, f: Any, **kw: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(records_mod.json, "dump", fail)
    with pytest.raises(KeyboardInterrupt):
        write_record(_record(method="ga"), tmp_path)
    monkeypatch.undo()
    assert read_record(path)["method"]["name"] == "ft"
    assert list(tmp_path.iterdir()) == [path]


def _write_json(tmp_path: Path, obj: object) -> Path:
    p = tmp_path / "r.json"
    p.write_text(json.dumps(obj))
    return p


def test_read_bad_json(tmp_path: Path) -> None:
    p = tmp_path / "r.json"
    p.write_text('{"schema": "obliviate.run/1",')
    with pytest.raises(ObliviateError, match="cannot read run record .*r.json"):
        read_record(p)


def test_read_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ObliviateError, match="cannot read run record"):
        read_record(tmp_path / "none.json")


def test_read_not_an_object(tmp_path: Path) -> None:
    with pytest.raises(ObliviateError, match="must be a JSON object"):
        read_record(_write_json(tmp_path, [_record()]))


def test_old_schema_still_loads_but_never_mixes_with_new(tmp_path: Path) -> None:
    """An obliviate.run/1 record (PrivLeak's old sign, unstemmed ROUGE) reads, and a table
    over it and a /2 record refuses, naming both schemas."""
    from obliviate.views.tables import leaderboard

    old, new = _record(), _record()
    old["schema"], old["run_id"] = "obliviate.run/1", "old-run"
    assert read_record(_write_json(tmp_path, old))["schema"] == "obliviate.run/1"
    with pytest.raises(ObliviateError, match=r"mix record schemas obliviate.run/1, "
                                             r"obliviate.run/2"):
        leaderboard([old, new])


def test_read_wrong_schema(tmp_path: Path) -> None:
    rec = _record()
    rec["schema"] = "obliviate.run/9"
    with pytest.raises(ObliviateError,
                       match="schema 'obliviate.run/9' is not one obliviate reads"):
        read_record(_write_json(tmp_path, rec))


def test_read_missing_keys_are_all_named(tmp_path: Path) -> None:
    rec = _record()
    del rec["efficiency"], rec["created"]
    with pytest.raises(ObliviateError, match="lacks created, efficiency"):
        read_record(_write_json(tmp_path, rec))


def test_read_metric_missing_a_role(tmp_path: Path) -> None:
    rec = _record()
    del rec["metrics"]["UA"]["oracle"]
    with pytest.raises(ObliviateError, match="metric 'UA' lacks values for oracle"):
        read_record(_write_json(tmp_path, rec))


def test_read_metric_that_is_not_an_object(tmp_path: Path) -> None:
    rec = _record()
    rec["metrics"]["UA"] = 80.0
    with pytest.raises(ObliviateError, match="UA"):
        read_record(_write_json(tmp_path, rec))


def test_read_binary_file(tmp_path: Path) -> None:
    p = tmp_path / "r.json"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ObliviateError, match="cannot read run record"):
        read_record(p)


# ---------------------------------------------------------------------------------------------
# store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(sqlite_url(tmp_path / "runs.db"))


def test_store_add_list_get(store: Store, tmp_path: Path) -> None:
    rec = _record()
    store.add(rec, tmp_path / "r.json")
    assert store.list() == [{
        "run_id": rec["run_id"], "created": "2024-01-01T00:00:00", "scenario": "digits",
        "forget": "class:3", "method": "ft", "seed": 7, "avg_gap": 3.25, "time_ratio": 0.125,
        "path": str(tmp_path / "r.json"),
    }]
    assert store.get(rec["run_id"]) == rec


def test_store_missing_optional_numbers(store: Store) -> None:
    rec = _record()
    del rec["metrics"]["Avg.Gap"], rec["efficiency"]["ratio"]
    store.add(rec, "p")
    row = store.list()[0]
    assert row["avg_gap"] is None and row["time_ratio"] is None


def test_store_readd_replaces(store: Store) -> None:
    store.add(_record(method="ft"), "a")
    store.add(_record(method="ga"), "b")
    rows = store.list()
    assert len(rows) == 1 and rows[0]["method"] == "ga" and rows[0]["path"] == "b"
    assert store.get(_record()["run_id"])["method"]["name"] == "ga"


def test_store_lists_by_creation_time(store: Store) -> None:
    store.add(_record("late", created="2024-03-01T00:00:00"), "p")
    store.add(_record("early", created="2024-01-01T00:00:00"), "p")
    store.add(_record("middle", created="2024-02-01T00:00:00"), "p")
    assert [r["run_id"] for r in store.list()] == ["early", "middle", "late"]


def test_store_persists(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "runs.db")
    Store(url).add(_record("kept"), "p")
    assert Store(url).get("kept")["run_id"] == "kept"


def test_store_get_unknown(store: Store) -> None:
    with pytest.raises(ObliviateError, match="no run 'nope' in the store"):
        store.get("nope")


@pytest.mark.parametrize("url", ["notadialect://x", "not a url"])
def test_store_bad_url(url: str) -> None:
    with pytest.raises(ObliviateError, match=f"cannot open run store '{url}'"):
        Store(url)


def test_sqlite_url_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert sqlite_url("runs.db") == f"sqlite:///{tmp_path.resolve() / 'runs.db'}"


def test_write_nan_leaves_nothing_behind(tmp_path: Path) -> None:
    """JSON has no NaN (allow_nan=False): the write fails, and no file is left."""
    rec = _record()
    rec["per_class_accuracy"] = {"original": [100.0, float("nan")]}
    with pytest.raises(ObliviateError):
        write_record(rec, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_write_nan_is_a_kind_error(tmp_path: Path) -> None:
    rec = _record()
    rec["per_class_accuracy"] = {"original": [100.0, float("nan")]}
    with pytest.raises(ObliviateError, match="NaN"):
        write_record(rec, tmp_path)



def test_a_store_created_by_another_process_meanwhile_opens(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two benchmark processes sharing a fresh --home raced to create the table; the loser
    failed with "table runs already exists". Replayed here: another process creates the
    table between our check and our CREATE TABLE."""
    import sqlalchemy as sa

    from obliviate.storage import store as store_mod

    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    real = store_mod.metadata.create_all
    calls = []

    def racing(engine: sa.engine.Engine, **kw: object) -> None:
        calls.append(1)
        if len(calls) == 1:
            real(engine)  # the other process wins ...
            raise sa.exc.OperationalError("CREATE TABLE runs", {},
                                          Exception("table runs already exists"))
        real(engine)

    monkeypatch.setattr(store_mod.metadata, "create_all", racing)
    store_mod.Store(url).list()  # ... and we open the store it made
    def broken(engine: sa.engine.Engine, **kw: object) -> None:
        raise sa.exc.OperationalError("CREATE TABLE runs", {}, Exception("disk I/O error"))

    monkeypatch.setattr(store_mod.metadata, "create_all", broken)  # other errors still fail
    with pytest.raises(ObliviateError, match="disk I/O error"):
        store_mod.Store(url)


# ---------------------------------------------------------------------------------------------
# file modes: what others may read is the umask's call, not mkstemp's owner-only 0600


@pytest.mark.parametrize(("mask", "file_mode", "dir_mode"), [
    (0o022, 0o644, 0o755),  # 0o666 & ~0o022, 0o777 & ~0o022: a shared lab store
    (0o077, 0o600, 0o700),  # a private umask stays private
    (0o027, 0o640, 0o750),
])
def test_files_honour_the_umask(tmp_path: Path, mask: int, file_mode: int,
                                dir_mode: int) -> None:
    import numpy as np
    from torch import nn

    from obliviate.storage.atomic import atomic_write
    from obliviate.storage.cache import ModelCache
    from obliviate.storage.sidecar import write_sidecar

    old = os.umask(mask)
    try:
        record_path = write_record(_record(), tmp_path / "runs")
        side = tmp_path / "runs" / "s.features.npz"
        write_sidecar(side, {"a": np.zeros(3)})
        ModelCache(tmp_path / "cache").save("k", nn.Linear(2, 2), {"role": "original"})
        atomic_write(tmp_path / "r.html", lambda f: f.write("<html>"))  # reports' writer
    finally:
        os.umask(old)
    for f in (record_path, side, tmp_path / "cache" / "k" / "meta.json",
              tmp_path / "cache" / "k" / "model.safetensors", tmp_path / "r.html"):
        assert stat.S_IMODE(f.stat().st_mode) == file_mode, f
    for d in (tmp_path / "runs", tmp_path / "cache" / "k"):
        assert stat.S_IMODE(d.stat().st_mode) == dir_mode, d
