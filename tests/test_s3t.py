"""S3T (issue 13): deactivation instead of retraining, checked against S3T trained from
scratch on the retained rows and against orders and prefixes worked out by hand."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from obliviate.cli import main
from obliviate.guaranteed import s3t as s3t_module
from obliviate.guaranteed.checkpoints import CheckpointStore
from obliviate.guaranteed.s3t import S3T, S3TConfig, best_order, rotation, usable_prefix
from obliviate.guaranteed.sisa import layout
from obliviate.types import Split

CFG = S3TConfig(shards=3, slices=3, orders=2, rank=4, width=64, epochs_per_layer=2)


def _split(n: int = 300) -> Split:
    d = load_digits()
    x = torch.from_numpy((d.images[:n] / 16.0).astype(np.float32))[:, None]
    # Ids are not positions: a gap and an offset catch any confusion between the two.
    ids = np.r_[np.arange(n // 2), np.arange(n // 2) + 1000 + n]
    return Split("train", x, torch.from_numpy(d.target[:n]), ids)


def _fit(split: Split, cfg: S3TConfig = CFG) -> S3T:
    m = S3T(split, cfg, 10, seed=0)
    m.fit()
    return m


def _row(split: Split, shard: int, slc: int, skip: int = 0) -> int:
    """The id of a row in (shard, slice), found from SISA's layout (a hash of seed and id)."""
    sh, sl = layout(split.ids, CFG.shards, CFG.slices, 0)
    return int(split.ids[np.nonzero((sh == shard) & (sl == slc))[0][skip]])


def test_usable_prefix_and_best_order_by_hand() -> None:
    """Rotations of 4 slices: [0,1,2,3], [1,2,3,0], [2,3,0,1], [3,0,1,2].
    Slice 2 deleted: the first deleted position is 2, 1, 0, 3 -> order 3 serves 3 layers.
    Slices {0, 2}: positions 0, 1 (slice 2 at 1), 0, 1 (slice 0 at 1) -> tie of 1 layer,
    the lowest index wins: order 1. Every slice deleted: no layer anywhere."""
    orders = [rotation(k, 4) for k in range(4)]
    assert orders == [[0, 1, 2, 3], [1, 2, 3, 0], [2, 3, 0, 1], [3, 0, 1, 2]]
    assert [usable_prefix(o, {2}) for o in orders] == [2, 1, 0, 3]
    assert best_order(orders, set()) == (0, 4)
    assert best_order(orders, {2}) == (3, 3)
    assert [usable_prefix(o, {0, 2}) for o in orders] == [0, 1, 0, 1]
    assert best_order(orders, {0, 2}) == (1, 1)
    assert best_order(orders, {0, 1, 2, 3}) == (0, 0)
    assert best_order(orders[:1], {3}) == (0, 3)  # one order: SISA-like truncation


def test_deletion_deactivates_the_right_layers_and_trains_nothing(monkeypatch) -> None:
    """3 slices, orders [0,1,2] and [1,2,0]. A row of slice 1 of shard 0: order 0 loses
    layers 1, 2 (trained on slices {0,1} and {0,1,2}), order 1 loses 0, 1, 2 (slice 1 is
    first): order 0 serves 1 layer. Then a row of slice 2 of shard 0: order 0 still serves
    1 layer. Nothing is trained; the deactivated layers are zeroed (they saw the row) and
    every other tensor of every stack is unchanged."""
    split = _split()
    m = _fit(split)
    before = {s: {k: v.clone() for k, v in st.state_dict().items()}
              for s, st in m.stacks.items()}
    trained: list[int] = []
    monkeypatch.setattr(m, "_train_layer", lambda *a, **k: trained.append(1))
    d = m.delete(np.array([_row(split, 0, 1)]))
    ev = d.evidence["shards"]["0"]
    assert d.guarantee == "exact" and d.evidence["retrained_shards"] == []
    assert ev["deleted_slices"] == [1]
    assert ev["deactivated_layers"] == {"0": [1, 2], "1": [0, 1, 2]}
    assert (ev["served_order"], ev["served_layers"]) == (0, 1)
    assert d.evidence["untouched_shards"] == [1, 2]
    assert m.usable_layers() == {0: 1, 1: 3, 2: 3}
    d = m.delete(np.array([_row(split, 0, 2)]))
    assert d.evidence["shards"]["0"]["deactivated_layers"] == {"0": [1, 2], "1": [0, 1, 2]}
    assert m.usable_layers() == {0: 1, 1: 3, 2: 3} and m.absorbed == 2
    assert not trained
    for s, st in m.stacks.items():
        for k, v in st.state_dict().items():
            if s == 0:
                assert torch.equal(v[0, 0], before[s][k][0, 0]), k
                assert not v[0, 1:].any() and not v[1].any(), k
            else:
                assert torch.equal(v, before[s][k]), (s, k)
    # The served layer's evidence: sha256 of the sorted ids of shard 0's slice 0.
    sh, sl = layout(split.ids, 3, 3, 0)
    rows = np.sort(split.ids[(sh == 0) & (sl == 0)]).astype(np.int64)
    assert d.evidence["shards"]["0"]["served_layer_rows_sha256"] == [
        hashlib.sha256(rows.tobytes()).hexdigest()]


def test_best_order_survives_a_deletion_the_first_order_does_not() -> None:
    """A row of slice 0 of shard 1 leaves order 0 ([0,1,2]) nothing, but order 1 ([1,2,0])
    keeps layers 0 and 1 (slices {1}, {1,2}): the shard serves order 1 with 2 layers.
    With one order, the same deletion leaves no layer and the shard is retrained."""
    split = _split()
    m = _fit(split)
    d = m.delete(np.array([_row(split, 1, 0)]))
    ev = d.evidence["shards"]["1"]
    assert ev["deactivated_layers"] == {"0": [0, 1, 2], "1": [2]}
    assert (ev["served_order"], ev["served_layers"]) == (1, 2)
    assert d.evidence["retrained_shards"] == [] and m.selection()[1] == (1, 2)
    one = _fit(split, S3TConfig(**{**CFG.__dict__, "orders": 1}))
    d = one.delete(np.array([_row(split, 1, 0)]))
    assert d.evidence["retrained_shards"] == [1] and one.retrains == 1 and one.absorbed == 0


def test_served_model_is_bit_identical_to_s3t_from_scratch_on_the_retained_rows() -> None:
    """Four requests: shard 0 slice 2 (absorbed), shard 2 slice 0 (absorbed: order 1 serves
    2 layers), shard 2 slice 1 (no order of shard 2 has a usable layer: retrained), shard 1
    slices 1 and 2 in one request (absorbed). Compared with S3T trained from scratch, same
    seed, on the retained rows, under the live model's selection (per shard: the order
    served and its number of layers): torch.equal on every served tensor (A, B, b of the
    served layers) and on the aggregated scores of 100 held-out digits. For the shards not
    retrained, the original model (trained on all rows) under the same selection matches
    too: nothing was trained. The live model's deactivated layers differ from scratch's (they
    saw deleted rows), so the comparison can fail."""
    split = _split()
    live = _fit(split)
    original = _fit(split)
    requests = [[_row(split, 0, 2)], [_row(split, 2, 0)], [_row(split, 2, 1)],
                [_row(split, 1, 1), _row(split, 1, 2)]]
    results = [live.delete(np.array(r)) for r in requests]
    assert [r.evidence["retrained_shards"] for r in results] == [[], [], [2], []]
    assert live.absorbed == 3 and live.retrains == 1
    sel = live.selection()
    assert sel == {0: (0, 2), 1: (0, 1), 2: (0, 3)}
    gone = np.isin(split.ids, np.concatenate(requests))
    scratch = _fit(split.subset(np.nonzero(~gone)[0]))
    a, b = live.served_state(sel), scratch.served_state(sel)
    assert a.keys() == b.keys() and len(a) == 9
    for k in a:
        assert torch.equal(a[k], b[k]), k
    x = load_digits().images[300:400] / 16.0
    xt = torch.from_numpy(x.astype(np.float32))[:, None]
    assert torch.equal(live.scores(xt, sel), scratch.scores(xt, sel))
    # Shards 0 and 1 were not retrained: their served layers are the original's.
    kept = {s: v for s, v in sel.items() if s != 2}
    orig = original.served_state(kept)
    assert all(torch.equal(orig[k], a[k]) for k in orig)
    # Everything the live model holds (served or not) is scratch's stack with the deactivated
    # layers zeroed: order 0 of shard 0 keeps 2 layers, of shard 1 one; order 1 keeps 1 of
    # shard 0 ([1,2,0], slice 2 deleted) and none of shard 1; shard 2 was retrained.
    keep = {0: {0: 2, 1: 1}, 1: {0: 1, 1: 0}, 2: {0: 3, 1: 3}}
    for s, st in live.stacks.items():
        ref = scratch.stacks[s].state_dict()
        for name, v in st.state_dict().items():
            for k, n in keep[s].items():
                assert torch.equal(v[k, :n], ref[name][k, :n]), (s, name, k)
                assert not v[k, n:].any(), (s, name, k)
    # The original's layer 2 of shard 0, order 0 saw a deleted row: it differs from scratch.
    assert not torch.equal(original.stacks[0].B[0, 2], scratch.stacks[0].B[0, 2])


def test_s3t_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match=r"orders=5 \(want <= slices=4"):
        S3TConfig(orders=5)
    with pytest.raises(ValueError, match="rank=0"):
        S3TConfig(rank=0)
    with pytest.raises(ValueError, match="aggregation"):
        S3TConfig(aggregation="median")
    split = _split(20)
    with pytest.raises(ValueError, match="more than the 20"):
        S3T(split, S3TConfig(shards=21), 10, seed=0)
    m = _fit(split, S3TConfig(shards=2, slices=2, width=16, epochs_per_layer=1))
    with pytest.raises(ValueError, match="no rows"):
        m.delete(np.array([], dtype=np.int64))
    with pytest.raises(ValueError, match="not in the training set"):
        m.delete(np.array([999]))
    m.delete(np.array([3]))
    with pytest.raises(ValueError, match="not in the training set"):
        m.delete(np.array([3]))


def test_checkpoints_are_reused_and_removed_on_deletion(tmp_path, monkeypatch) -> None:
    """Three shards, three safetensors files. A second S3T over the same rows and store
    trains no layer (each key exists) and holds bit-identical stacks, loaded without
    pickle. A deletion from shard 0 removes shard 0's file (it holds the layers now
    zeroed) and only that file."""
    split = _split(150)
    store = CheckpointStore(tmp_path / "ck")
    first = S3T(split, CFG, 10, seed=0, store=store)
    first.fit()
    assert len(store.keys()) == 3 and first.layers_trained == 3 * 2 * 3

    def no_pickle(*_a: object, **_k: object) -> None:
        raise AssertionError("pickle used")

    monkeypatch.setattr(torch, "load", no_pickle)
    again = S3T(split, CFG, 10, seed=0, store=store)
    again.fit()
    assert again.layers_trained == 0
    for s, st in first.stacks.items():
        for k, v in st.state_dict().items():
            assert torch.equal(v, again.stacks[s].state_dict()[k]), (s, k)
    key0 = again.keys[0]
    d = again.delete(np.array([_row(split, 0, 2)]))
    assert d.evidence["shards"]["0"]["purged_checkpoints"] == [key0]
    assert store.keys() == {first.keys[1], first.keys[2]}


def test_deleting_every_row_is_refused() -> None:
    split = _split(10)
    m = _fit(split, S3TConfig(shards=1, slices=1, orders=1, width=8,
                                    epochs_per_layer=1))
    with pytest.raises(ValueError, match="every training row"):
        m.delete(split.ids)


def _cli(capsys: pytest.CaptureFixture[str], tmp_path, *args: str) -> tuple[int, str, str]:
    code = main(["--home", str(tmp_path / "home"), "--quiet", "exact", "--method", "s3t",
                 "--forget", "random:0.01", "--model", "mlp", "--no-noise-floor", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_exact_s3t_record_is_exact_and_bit_identical(capsys, tmp_path) -> None:
    code, out, err = _cli(capsys, tmp_path, "--requests", "3", "--set", "width=64",
                          "epochs_per_layer=2", "--json")
    assert code == 0, err
    record = json.loads(out)
    g = record["guarantee"]
    assert record["schema"] == "obliviate.run/2" and record["method"]["name"] == "s3t"
    assert g["guarantee"] == "exact" and [r["guarantee"] for r in g["requests"]] == ["exact"] * 3
    assert g["verification"]["bit_identical_to_scratch"] is True
    ev = g["requests"][0]["evidence"]
    assert ev["shards"] and all("deactivated_layers" in v for v in ev["shards"].values())


@pytest.mark.parametrize(("args", "message"), [
    (("--set", "orders=9"), "orders=9 (want <= slices=4"),
    (("--set", "rank=0"), "rank=0"),
    (("--set", "order=2"), "no field 'order'; valid fields: shards"),
    (("--set", "shards=5000"), "more than the"),
])
def test_cli_exact_s3t_bad_input_is_one_line_exit_2(capsys, tmp_path, args: tuple[str, ...],
                                                    message: str) -> None:
    code, out, err = _cli(capsys, tmp_path, *args)
    assert code == 2 and message in err and err.count("\n") == 1, err


def test_module_docstring_names_the_paper() -> None:
    assert "Chowdhury" in (s3t_module.__doc__ or "")


def _scores_in_fresh_process(state_dir, n: int, out) -> None:
    """Load the saved state in another Python process (nothing shared with this one but the
    files) and write its scores on 100 held-out digits to ``out``."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import obliviate

    code = f"""
import numpy as np, torch
from safetensors.torch import save_file
from sklearn.datasets import load_digits
from obliviate.guaranteed.s3t import S3T
from obliviate.types import Split
d = load_digits(); n = {n}
x = torch.from_numpy((d.images[:n] / 16.0).astype(np.float32))[:, None]
ids = np.r_[np.arange(n // 2), np.arange(n // 2) + 1000 + n]
m = S3T.load({str(state_dir)!r}, Split("train", x, torch.from_numpy(d.target[:n]), ids))
xt = torch.from_numpy((d.images[300:400] / 16.0).astype(np.float32))[:, None]
save_file({{"scores": m.scores(xt)}}, {str(out)!r})
"""
    src = str(Path(obliviate.__file__).resolve().parents[1])
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120,
                   env={**os.environ, "PYTHONPATH": src})


def test_saved_state_after_deletions_is_served_bit_identically_after_a_restart(tmp_path) -> None:
    """Four requests (one forces shard 2's retrain), then ``save``. A fresh process loading the
    files serves scores torch.equal to the live object's, and so does a reloaded object here,
    with the same selection (order and layers per shard) and counters; both equal S3T trained
    from scratch on the retained rows under that selection. A fifth request honoured by the
    live and the reloaded object gives the same evidence and again equal scores."""
    from safetensors.torch import load_file

    split = _split()
    live = _fit(split)
    requests = [[_row(split, 0, 2)], [_row(split, 2, 0)], [_row(split, 2, 1)],
                [_row(split, 1, 1), _row(split, 1, 2)]]
    for r in requests:
        live.delete(np.array(r))
    live.save(tmp_path / "state")
    xt = torch.from_numpy((load_digits().images[300:400] / 16.0).astype(np.float32))[:, None]
    _scores_in_fresh_process(tmp_path / "state", 300, tmp_path / "scores.safetensors")
    assert torch.equal(load_file(str(tmp_path / "scores.safetensors"))["scores"],
                       live.scores(xt))
    back = S3T.load(tmp_path / "state", split)
    sel = live.selection()
    assert back.selection() == sel == {0: (0, 2), 1: (0, 1), 2: (0, 3)}
    assert (back.absorbed, back.retrains) == (live.absorbed, live.retrains) == (3, 1)
    assert torch.equal(back.scores(xt), live.scores(xt))
    gone = np.isin(split.ids, np.concatenate(requests))
    scratch = _fit(split.subset(np.nonzero(~gone)[0]))
    a, b = back.served_state(sel), scratch.served_state(sel)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(back.scores(xt, sel), scratch.scores(xt, sel))
    fifth = np.array([_row(split, 0, 1)])
    ev_live, ev_back = live.delete(fifth), back.delete(fifth)
    assert ev_live.evidence == ev_back.evidence
    assert torch.equal(back.scores(xt), live.scores(xt))
    with pytest.raises(ValueError, match="not in the training set"):
        back.delete(np.array(requests[0]))  # the reloaded object remembers the deleted rows


def test_saved_state_is_refused_over_other_rows_or_when_tampered_and_writes_atomically(
        tmp_path, monkeypatch) -> None:
    """A state loads only over the rows it was trained on; a tensor file whose sha256 no
    longer matches is refused; a write that dies midway leaves the previous state loadable
    and no stray tensor file."""
    import obliviate.guaranteed.persist as persist

    split = _split(150)
    m = _fit(split)
    m.save(tmp_path)
    with pytest.raises(ValueError, match="no saved state"):
        S3T.load(tmp_path / "nowhere", split)
    with pytest.raises(ValueError, match="other training rows"):
        S3T.load(tmp_path, split.subset(np.arange(149)))
    m.delete(np.array([_row(split, 0, 0)]))

    def dies(*_a: object, **_k: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(persist, "atomic_write", dies)
    with pytest.raises(OSError, match="disk full"):
        m.save(tmp_path)
    monkeypatch.undo()
    back = S3T.load(tmp_path, split)  # the state before the deletion, whole
    assert back.absorbed == 0 and back.alive.all()
    assert len(list(tmp_path.glob("s3t-*.safetensors"))) == 1  # the failed write's is gone
    m.save(tmp_path)
    assert len(list(tmp_path.glob("s3t-*.safetensors"))) == 1
    assert S3T.load(tmp_path, split).absorbed == 1
    weights = next(tmp_path.glob("s3t-*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    with pytest.raises(ValueError, match="fail their sha256"):
        S3T.load(tmp_path, split)
