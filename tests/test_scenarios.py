"""Scenario splits, forget-set selectors, label noise and model keys."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from obliviate.errors import ForgetSetError
from obliviate.scenarios import SCENARIOS, Scenario, ScenarioData, check_splits
from obliviate.tasks.classification.pool import Pool, make_pool
from obliviate.types import Split

DIGITS = SCENARIOS["digits"]
NOISY = SCENARIOS["digits-noisy"]


def _train_ids(data: ScenarioData) -> np.ndarray:
    return np.sort(np.concatenate([data.forget.ids, data.retain.ids]))


def _dup_pool() -> Pool:
    """41 source rows of 2-D features; source row 7 is an exact copy of row 3 (same label), so
    make_pool drops it: 40 pool rows, and pool position p holds source row p (p < 7) or p + 1."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(41, 2))
    y = np.arange(41) % 2
    x[7], y[7] = x[3], y[3]
    return make_pool("dups", x, y, ("cat", "dog"))


DUPS = Scenario(name="dups", description="test pool with one duplicate row", load=_dup_pool)


# ---------------------------------------------------------------------------------------------
# splits


@pytest.mark.parametrize("scenario,forget", [(DIGITS, "class:3"), (DIGITS, "random:0.1"),
                                             (NOISY, "random:0.1"), (DUPS, "random:0.25")])
def test_splits_are_disjoint_by_id_and_content(scenario: Scenario, forget: str) -> None:
    data = scenario.build(forget, seed=0)
    splits = [data.forget, data.retain, data.test, data.holdout]
    ids = [set(s.ids.tolist()) for s in splits]
    content = [{r.tobytes() for r in s.inputs.numpy().reshape(len(s), -1)} for s in splits]
    for i in range(4):
        for j in range(i + 1, 4):
            assert not ids[i] & ids[j], (splits[i].name, splits[j].name)
            assert not content[i] & content[j], (splits[i].name, splits[j].name)
    # each split's inputs and targets are the pool's rows at its ids
    for s in splits:
        np.testing.assert_array_equal(s.inputs.numpy(), data.pool.x[s.ids])


def test_digits_split_sizes() -> None:
    """1,797 rows (no duplicates): test = round(0.2 * 1797) = round(359.4) = 359,
    holdout = round(0.1 * 1797) = round(179.7) = 180, train = 1797 - 539 = 1258.
    The splits cover the pool."""
    data = DIGITS.build("class:3", seed=0)
    assert len(data.test) == 359 and len(data.holdout) == 180
    assert len(data.forget) + len(data.retain) == 1258
    every = np.concatenate([data.forget.ids, data.retain.ids, data.test.ids, data.holdout.ids])
    np.testing.assert_array_equal(np.sort(every), np.arange(1797))
    assert data.sizes() == {"forget": len(data.forget), "retain": len(data.retain),
                            "test": 359, "holdout": 180}


def test_split_sizes_count_the_deduplicated_pool() -> None:
    """41 source rows, 1 duplicate -> 40 pool rows: test round(8.0) = 8, holdout round(4.0) = 4,
    train 28 (computing on 41 rows would give test round(8.2) = 8 but holdout round(4.1) = 4 and
    train 29)."""
    data = DUPS.build("random:0.25", seed=0)
    assert len(data.pool.y) == 40
    assert (len(data.test), len(data.holdout)) == (8, 4)
    assert len(data.forget) + len(data.retain) == 28
    assert len(data.forget) == 7  # round(0.25 * 28)


def test_noisy_train_size_cap() -> None:
    """digits-noisy caps training at 400; test and holdout keep their fractions of 1,797."""
    data = NOISY.build("random:0.1", seed=0)
    assert len(data.forget) + len(data.retain) == 400
    assert (len(data.test), len(data.holdout)) == (359, 180)
    assert len(data.forget) == 40  # round(0.1 * 400)


def test_test_and_holdout_do_not_depend_on_forget_or_seed() -> None:
    a = DIGITS.build("class:3", seed=0)
    b = DIGITS.build("random:0.1", seed=7)
    np.testing.assert_array_equal(a.test.ids, b.test.ids)
    np.testing.assert_array_equal(a.holdout.ids, b.holdout.ids)
    np.testing.assert_array_equal(_train_ids(a), _train_ids(b))


# ---------------------------------------------------------------------------------------------
# selectors


@pytest.mark.parametrize("k", [0, 3, 9])
def test_class_selects_exactly_training_samples_of_class(k: int) -> None:
    data = DIGITS.build(f"class:{k}", seed=0)
    train = _train_ids(data)
    expect = train[data.pool.y[train] == k]
    np.testing.assert_array_equal(np.sort(data.forget.ids), expect)
    assert (data.forget.targets == k).all()
    assert (data.retain.targets != k).all()
    np.testing.assert_array_equal(np.sort(data.retain.ids), np.setdiff1d(train, expect))


def test_class_by_name() -> None:
    data = DUPS.build("class:dog", seed=0)
    train = _train_ids(data)
    np.testing.assert_array_equal(np.sort(data.forget.ids), train[data.pool.y[train] == 1])
    assert (data.forget.targets == 1).all()


def test_random_fraction_size_and_seed() -> None:
    """round(0.1 * 1258) = round(125.8) = 126 training samples."""
    a = DIGITS.build("random:0.1", seed=0)
    assert len(a.forget) == 126
    assert set(a.forget.ids.tolist()) <= set(_train_ids(a).tolist())
    again = DIGITS.build("random:0.1", seed=0)
    np.testing.assert_array_equal(a.forget.ids, again.forget.ids)
    other = DIGITS.build("random:0.1", seed=1)
    assert len(other.forget) == 126
    assert set(a.forget.ids.tolist()) != set(other.forget.ids.tolist())


@pytest.mark.parametrize("fmt", ["txt", "npy"])
def test_indices_file_selects_source_rows(tmp_path: Path, fmt: str) -> None:
    """Indices name *source* rows. In DUPS source row 7 was dropped, so source rows above 7 sit
    at pool position row - 1; the forget ids mapped back through ``pool.row`` must give the
    rows we wrote."""
    probe = DUPS.build("random:0.25", seed=0)
    train_rows = probe.pool.row[_train_ids(probe)]
    wanted = np.array([r for r in train_rows if r > 7][:3] + [r for r in train_rows if r < 7][:1])
    assert len(wanted) == 4 and (wanted > 7).sum() == 3
    if fmt == "npy":
        path = tmp_path / "rows.npy"
        np.save(path, wanted)
    else:
        path = tmp_path / "rows.txt"
        path.write_text(f"{wanted[0]}, {wanted[1]}\n{wanted[2]} {wanted[3]}\n{wanted[0]}\n")
    data = DUPS.build(f"indices:{path}", seed=0)
    np.testing.assert_array_equal(np.sort(data.pool.row[data.forget.ids]), np.sort(wanted))
    np.testing.assert_array_equal(data.forget.inputs.numpy(),
                                  data.pool.x[data.forget.ids])


def test_indices_file_on_digits(tmp_path: Path) -> None:
    """Digits has no duplicates, so source rows equal pool positions."""
    probe = DIGITS.build("class:0", seed=0)
    rows = _train_ids(probe)[[0, 10, 100]]
    (tmp_path / "f.txt").write_text(" ".join(str(r) for r in rows))
    data = DIGITS.build(f"indices:{tmp_path / 'f.txt'}", seed=0)
    np.testing.assert_array_equal(data.forget.ids, rows)
    np.testing.assert_array_equal(data.forget.targets.numpy(), data.pool.y[rows])


# ---------------------------------------------------------------------------------------------
# selector errors


@pytest.mark.parametrize("spec,message", [
    ("bogus:1", r"bad forget set 'bogus:1'; expected one of: class:K .*random:F .*indices:FILE"),
    ("class", "bad forget set 'class'"),
    ("class:", "bad forget set 'class:'"),
    ("class:10", r"class 10 out of range; the data has classes 0\.\.9"),
    ("class:-1", "class -1 out of range"),
    ("class:seven", "unknown class 'seven'; classes: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9"),
    ("random:0", r"the fraction must be in \(0, 1\), got 0\.0"),
    ("random:1", r"the fraction must be in \(0, 1\), got 1\.0"),
    ("random:1.5", r"the fraction must be in \(0, 1\), got 1\.5"),
    ("random:-0.1", r"must be in \(0, 1\)"),
    ("random:abc", "'abc' is not a number"),
    # round(0.0001 * 1258) = round(0.1258) = 0
    ("random:0.0001", "is empty: 0.0001 of 1258 training samples rounds to 0"),
    # round(0.9999 * 1258) = round(1257.87) = 1258: everything
    ("random:0.9999", "is the whole training set"),
])
def test_bad_forget_specs(spec: str, message: str) -> None:
    with pytest.raises(ForgetSetError, match=message):
        DIGITS.build(spec, seed=0)


def test_unknown_class_name_lists_names() -> None:
    with pytest.raises(ForgetSetError, match="unknown class 'bird'; classes: cat, dog"):
        DUPS.build("class:bird", seed=0)


def test_indices_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ForgetSetError, match="does not exist"):
        DIGITS.build(f"indices:{tmp_path / 'none.txt'}", seed=0)


@pytest.mark.parametrize("text", ["", "  \n"])
def test_indices_empty_file(tmp_path: Path, text: str) -> None:
    (tmp_path / "e.txt").write_text(text)
    with pytest.raises(ForgetSetError, match="is empty"):
        DIGITS.build(f"indices:{tmp_path / 'e.txt'}", seed=0)


def test_indices_empty_npy(tmp_path: Path) -> None:
    np.save(tmp_path / "e.npy", np.array([], dtype=np.int64))
    with pytest.raises(ForgetSetError, match="is empty"):
        DIGITS.build(f"indices:{tmp_path / 'e.npy'}", seed=0)


@pytest.mark.parametrize("text,message", [
    ("3 -1", r"1 forget index out of range \(the data has rows 0\.\.1796\): -1$"),
    ("1797", r"1 forget index out of range \(the data has rows 0\.\.1796\): 1797$"),
    ("3.5", "forget indices must be integers"),
    ("3 four", "cannot read forget indices"),
])
def test_indices_bad_values(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "bad.txt").write_text(text)
    with pytest.raises(ForgetSetError, match=message):
        DIGITS.build(f"indices:{tmp_path / 'bad.txt'}", seed=0)


def test_indices_out_of_range_counts_source_rows(tmp_path: Path) -> None:
    """DUPS has 41 source rows (40 pool rows): 40 is a valid source row, 41 is not."""
    probe = DUPS.build("random:0.25", seed=0)
    (tmp_path / "r.txt").write_text("41")
    with pytest.raises(ForgetSetError, match=r"1 forget index out of range.*rows 0\.\.40\): 41"):
        DUPS.build(f"indices:{tmp_path / 'r.txt'}", seed=0)
    assert 40 in probe.pool.row


def test_indices_dropped_duplicate_row(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_text("7")
    with pytest.raises(ForgetSetError, match="1 forget index is a duplicate of other rows.*: 7$"):
        DUPS.build(f"indices:{tmp_path / 'r.txt'}", seed=0)


@pytest.mark.parametrize("split", ["test", "holdout"])
def test_indices_outside_training_data(tmp_path: Path, split: str) -> None:
    probe = DIGITS.build("class:0", seed=0)
    row = int(getattr(probe, split).ids[5])
    train_row = int(_train_ids(probe)[0])
    (tmp_path / "r.txt").write_text(f"{train_row} {row}")
    with pytest.raises(ForgetSetError,
                       match=f"1 forget index is not a training row .*: {row};"):
        DIGITS.build(f"indices:{tmp_path / 'r.txt'}", seed=0)


def test_indices_whole_training_set(tmp_path: Path) -> None:
    probe = DIGITS.build("class:0", seed=0)
    np.save(tmp_path / "all.npy", _train_ids(probe))
    with pytest.raises(ForgetSetError, match="is the whole training set"):
        DIGITS.build(f"indices:{tmp_path / 'all.npy'}", seed=0)


# ---------------------------------------------------------------------------------------------
# check_splits


def _split(name: str, rows: list[list[float]], ids: list[int]) -> Split:
    x = torch.tensor(rows, dtype=torch.float32)
    return Split(name, x, torch.zeros(len(rows), dtype=torch.int64), np.array(ids))


def test_check_splits_accepts_disjoint_splits() -> None:
    check_splits([_split("a", [[0.0], [1.0]], [0, 1]), _split("b", [[2.0]], [2])])


def test_check_splits_shared_input_under_another_id() -> None:
    with pytest.raises(ValueError, match="splits 'a' and 'b' share a sample"):
        check_splits([_split("a", [[0.0], [1.0]], [0, 1]), _split("b", [[1.0]], [9])])


def test_check_splits_shared_id() -> None:
    with pytest.raises(ValueError, match=r"splits 'a' and 'c' share a sample \(pool row 1\)"):
        check_splits([_split("a", [[0.0], [1.0]], [0, 1]), _split("b", [[5.0]], [5]),
                      _split("c", [[7.0]], [1])])


# ---------------------------------------------------------------------------------------------
# label noise


def test_label_noise_rate_and_untouched_test() -> None:
    """digits-noisy flips each train/holdout label with probability 0.2 to another class.

    Train: n = 400, sd = sqrt(0.2 * 0.8 / 400) = 0.02; accept |rate - 0.2| < 4 sd = 0.08.
    Holdout: n = 180, sd = sqrt(0.16 / 180) = 0.0298; 4 sd = 0.119.
    The test split keeps the clean labels.
    """
    data = NOISY.build("random:0.1", seed=0)
    train = data.train_split()
    changed = train.targets.numpy() != data.pool.y[train.ids]
    assert abs(changed.mean() - 0.2) < 0.08
    hold_changed = data.holdout.targets.numpy() != data.pool.y[data.holdout.ids]
    assert abs(hold_changed.mean() - 0.2) < 0.119
    np.testing.assert_array_equal(data.test.targets.numpy(), data.pool.y[data.test.ids])
    assert ((train.targets >= 0) & (train.targets < 10)).all()
    # the clean scenario changes nothing
    clean = DIGITS.build("random:0.1", seed=0).train_split()
    np.testing.assert_array_equal(clean.targets.numpy(), data.pool.y[clean.ids])


def test_label_noise_is_fixed_across_run_seeds() -> None:
    """The noise is part of the scenario (SPLIT_SEED), not of the run seed."""
    a = NOISY.build("random:0.1", seed=0).train_split()
    b = NOISY.build("random:0.2", seed=3).train_split()
    ya = dict(zip(a.ids.tolist(), a.targets.tolist(), strict=True))
    yb = dict(zip(b.ids.tolist(), b.targets.tolist(), strict=True))
    assert ya == yb


# ---------------------------------------------------------------------------------------------
# model keys


def test_model_key() -> None:
    base = DIGITS.build("class:3", seed=0)
    again = DIGITS.build("class:3", seed=0)
    for role in ("original", "oracle"):
        assert base.model_key(role) == again.model_key(role)
        assert len(base.model_key(role)) == 32
    assert base.model_key("original") != base.model_key("oracle")
    assert DIGITS.build("class:3", seed=1).model_key("original") != base.model_key("original")
    assert DIGITS.build("class:3", seed=0, model="mlp").model_key("oracle") != \
        base.model_key("oracle")
    slower = replace(DIGITS, recipe=replace(DIGITS.recipe, epochs=31))
    assert slower.build("class:3", seed=0).model_key("original") != base.model_key("original")
    # another forget set: the original trains on the same data (same key), the oracle does not
    other = DIGITS.build("class:4", seed=0)
    assert other.model_key("original") == base.model_key("original")
    assert other.model_key("oracle") != base.model_key("oracle")
