"""Data pools: duplicate handling, fingerprints, bundled digits, and the user's own files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from obliviate.errors import DataError
from obliviate.tasks.classification.digits import digits_pool
from obliviate.tasks.classification.pool import make_pool
from obliviate.tasks.classification.user import load_user_pool

# ---------------------------------------------------------------------------------------------
# make_pool and fingerprint


def test_make_pool_drops_duplicates_keeping_first_or_none() -> None:
    """Source rows: 0=a/0, 1=b/1, 2=a/0, 3=c/2, 4=b/0, 5=d/1.

    a appears at rows 0 and 2 with the same label -> keep row 0 only.
    b appears at rows 1 and 4 with labels 1 and 0 -> conflict, drop both.
    c (row 3) and d (row 5) are unique -> kept.
    Expected pool rows [0, 3, 5], inputs [a, c, d], labels [0, 2, 1].
    """
    a, b, c, d = ([1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0])
    x = np.array([a, b, a, c, b, d])
    y = np.array([0, 1, 0, 2, 0, 1])
    pool = make_pool("t", x, y, ("p", "q", "r"))
    np.testing.assert_array_equal(pool.row, [0, 3, 5])
    np.testing.assert_array_equal(pool.x, np.array([a, c, d], dtype=np.float32))
    np.testing.assert_array_equal(pool.y, [0, 2, 1])
    assert pool.x.dtype == np.float32 and pool.y.dtype == np.int64
    assert pool.n_source_rows == 6
    assert pool.input_shape == (2,)
    # ``row`` maps each pool row back to its source row
    np.testing.assert_array_equal(x[pool.row].astype(np.float32), pool.x)
    np.testing.assert_array_equal(y[pool.row], pool.y)


def test_make_pool_drops_all_copies_when_a_later_copy_conflicts() -> None:
    """a at rows 0, 1 (label 0) and row 3 (label 1): the third copy conflicts -> all three go.
    Only row 2 (b) survives."""
    x = np.array([[0.0], [0.0], [1.0], [0.0]])
    y = np.array([0, 0, 1, 1])
    pool = make_pool("t", x, y, ("0", "1"))
    np.testing.assert_array_equal(pool.row, [2])
    np.testing.assert_array_equal(pool.y, [1])


def test_make_pool_keeps_near_duplicates() -> None:
    """Inputs differing in one value by 1e-3 are distinct samples."""
    x = np.array([[0.5, 0.5], [0.5, 0.501], [0.5, 0.5]])
    pool = make_pool("t", x, np.array([0, 1, 0]), ("0", "1"))
    np.testing.assert_array_equal(pool.row, [0, 1])


def test_make_pool_image_duplicates() -> None:
    """Duplicate detection looks at the whole (c, h, w) image, not the first row of it."""
    rng = np.random.default_rng(0)
    img = rng.random((3, 1, 4, 4))
    img[1, 0, 0] = img[0, 0, 0]  # same first row, different elsewhere
    img[2] = img[0]  # exact copy of image 0
    pool = make_pool("t", img, np.array([1, 1, 1]), ("0", "1"))
    np.testing.assert_array_equal(pool.row, [0, 1])


def _pool_xyz() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.random((10, 3)), rng.integers(0, 2, 10)


def test_fingerprint_is_stable_and_changes_with_any_value() -> None:
    x, y = _pool_xyz()
    base = make_pool("t", x, y, ("0", "1")).fingerprint()
    assert base == make_pool("other-name", x.copy(), y.copy(), ("0", "1")).fingerprint()
    assert len(base) == 64 and set(base) <= set("0123456789abcdef")  # a sha256 hex digest

    x2 = x.copy()
    x2[4, 1] += 1e-3
    assert make_pool("t", x2, y, ("0", "1")).fingerprint() != base
    y2 = y.copy()
    y2[7] = 1 - y2[7]
    assert make_pool("t", x, y2, ("0", "1")).fingerprint() != base
    # Same inputs and labels but the rows come from different source rows (a duplicate dropped)
    x3 = np.concatenate([x[:1], x])
    y3 = np.concatenate([y[:1], y])
    p3 = make_pool("t", x3, y3, ("0", "1"))
    np.testing.assert_array_equal(p3.x, make_pool("t", x, y, ("0", "1")).x)
    assert p3.fingerprint() != base


# ---------------------------------------------------------------------------------------------
# digits


def test_digits_pool() -> None:
    """1,797 8x8 images with values 0..16 -> (1797, 1, 8, 8) float32 in [0, 1], no duplicates."""
    pool = digits_pool()
    assert pool.x.shape == (1797, 1, 8, 8) and pool.x.dtype == np.float32
    assert pool.x.min() == 0.0 and pool.x.max() == 1.0
    assert pool.classes == tuple(str(c) for c in range(10))
    assert len(np.unique(pool.x.reshape(len(pool.x), -1), axis=0)) == len(pool.x)
    ref = load_digits()
    np.testing.assert_array_equal(pool.x[:, 0] * 16.0, ref.images[pool.row])
    np.testing.assert_array_equal(pool.y, ref.target[pool.row])
    np.testing.assert_array_equal(pool.row, np.arange(1797))


# ---------------------------------------------------------------------------------------------
# user files: reading


def _write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_npz_features_are_standardised(tmp_path: Path) -> None:
    """Each column becomes (x - mean) / std (population std, ddof=0), computed here in float64;
    a constant column has std 0 and becomes all zeros (divided by 1, not 0)."""
    rng = np.random.default_rng(0)
    x = rng.normal(loc=[5.0, -3.0, 100.0], scale=[2.0, 0.1, 30.0], size=(40, 3))
    x = np.concatenate([x, np.full((40, 1), 7.0)], axis=1)
    y = np.array([5, 7] * 20)
    np.savez(tmp_path / "feat.npz", X=x, y=y)
    pool = load_user_pool(tmp_path / "feat.npz")

    expect = (x[:, :3] - x[:, :3].mean(axis=0)) / x[:, :3].std(axis=0)
    np.testing.assert_allclose(pool.x[:, :3], expect, atol=1e-5)
    np.testing.assert_allclose(pool.x[:, :3].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(pool.x[:, :3].std(axis=0), 1.0, atol=1e-5)
    np.testing.assert_array_equal(pool.x[:, 3], 0.0)
    assert pool.name == "feat" and pool.x.dtype == np.float32
    # labels 5 and 7 -> class ids 0 and 1, in sorted order
    assert pool.classes == ("5", "7")
    np.testing.assert_array_equal(pool.y, [0, 1] * 20)


@pytest.mark.parametrize("shape", [(25, 4, 4), (25, 3, 4, 4)])
def test_npz_images_get_channel_axis_and_scale_to_unit(tmp_path: Path,
                                                       shape: tuple[int, ...]) -> None:
    """Pixel values 0..255 -> (v - min) / (max - min) over the whole array; (n, h, w) gains a
    channel axis of size 1."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=shape).astype(np.uint8)
    x.flat[0], x.flat[1] = 0, 255
    np.savez(tmp_path / "img.npz", X=x, y=np.arange(25) % 3)
    pool = load_user_pool(tmp_path / "img.npz")
    want_shape = (25, 1, 4, 4) if len(shape) == 3 else shape
    assert pool.x.shape == want_shape
    assert pool.x.min() == 0.0 and pool.x.max() == 1.0
    np.testing.assert_allclose(pool.x.reshape(shape), x.astype(np.float64) / 255.0, atol=1e-6)
    assert pool.classes == ("0", "1", "2")


def test_csv_label_by_name_sorted_string_labels(tmp_path: Path) -> None:
    """Label column in the middle; labels sorted: bird=0, cat=1, dog=2; the two numeric columns
    are standardised like the .npz features."""
    rng = np.random.default_rng(0)
    f1 = rng.normal(size=24).round(3)
    f2 = rng.normal(3.0, 5.0, size=24).round(3)
    names = ["dog", "cat", "bird"] * 8
    lines = ["f1,animal,f2"] + [f"{a},{n},{b}" for a, n, b in zip(f1, names, f2, strict=True)]
    pool = load_user_pool(_write_csv(tmp_path / "zoo.csv", lines), label="animal")
    assert pool.classes == ("bird", "cat", "dog")
    np.testing.assert_array_equal(pool.y, [2, 1, 0] * 8)
    feats = np.stack([f1, f2], axis=1)
    expect = (feats - feats.mean(axis=0)) / feats.std(axis=0)
    np.testing.assert_allclose(pool.x, expect, atol=1e-5)
    assert pool.x.shape == (24, 2)


def test_csv_header_whitespace_and_duplicate_rows(tmp_path: Path) -> None:
    """Header names are stripped; rows 1 and 3 (0-based data rows) are identical with the same
    label -> row 3 dropped, so ``row`` skips 3."""
    lines = [" a , lab "] + [f"{i},{i % 2}" for i in range(21)]
    lines[4] = lines[2]  # data row 3 == data row 1
    pool = load_user_pool(_write_csv(tmp_path / "d.csv", lines), label="lab")
    assert pool.n_source_rows == 21
    np.testing.assert_array_equal(pool.row, [0, 1, 2] + list(range(4, 21)))


# ---------------------------------------------------------------------------------------------
# user files: errors


def _npz(tmp_path: Path, name: str = "d.npz", **arrays: np.ndarray) -> Path:
    np.savez(tmp_path / name, **arrays)
    return tmp_path / name


def _good_x(n: int = 30) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, 3))


def _good_y(n: int = 30) -> np.ndarray:
    return np.arange(n) % 2


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nope.npz.*does not exist"):
        load_user_pool(tmp_path / "nope.npz")


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(DataError, match="not a file"):
        load_user_pool(tmp_path / "dir.csv", label="y")


def test_wrong_suffix(tmp_path: Path) -> None:
    (tmp_path / "d.txt").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"unsupported data format '\.txt'.*\.npz or \.csv"):
        load_user_pool(tmp_path / "d.txt")


def test_npz_missing_y(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"missing array\(s\) \['y'\]"):
        load_user_pool(_npz(tmp_path, X=_good_x()))


def test_npz_with_label_flag(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="--label is for CSV"):
        load_user_pool(_npz(tmp_path, X=_good_x(), y=_good_y()), label="y")


def test_npz_unreadable(tmp_path: Path) -> None:
    (tmp_path / "bad.npz").write_bytes(b"this is not a zip file")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_user_pool(tmp_path / "bad.npz")


def test_npz_non_numeric_x(tmp_path: Path) -> None:
    x = np.array([["a", "b"]] * 30)
    with pytest.raises(DataError, match="X must be numeric"):
        load_user_pool(_npz(tmp_path, X=x, y=_good_y()))


def test_npz_y_not_1d(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"y must be 1-D, got shape \(30, 1\)"):
        load_user_pool(_npz(tmp_path, X=_good_x(), y=_good_y()[:, None]))


def test_npz_bad_x_rank(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"X must be .*got \(30,\)"):
        load_user_pool(_npz(tmp_path, X=np.arange(30.0), y=_good_y()))


def test_length_mismatch(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="X has 30 rows but y has 29"):
        load_user_pool(_npz(tmp_path, X=_good_x(30), y=_good_y(29)))


def test_too_few_rows(tmp_path: Path) -> None:
    """20 is the minimum; 19 is refused."""
    with pytest.raises(DataError, match="19 samples is too few.*need >= 20"):
        load_user_pool(_npz(tmp_path, X=_good_x(19), y=_good_y(19)))
    assert len(load_user_pool(_npz(tmp_path, "ok.npz", X=_good_x(20), y=_good_y(20))).y) == 20


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_npz_nan_or_inf(tmp_path: Path, bad: float) -> None:
    x = _good_x()
    x[3, 1] = bad
    with pytest.raises(DataError, match="NaN or infinite"):
        load_user_pool(_npz(tmp_path, X=x, y=_good_y()))


def test_csv_nan(tmp_path: Path) -> None:
    lines = ["a,b,lab"] + [f"{i},{'nan' if i == 5 else i},{i % 2}" for i in range(25)]
    with pytest.raises(DataError, match="NaN or infinite"):
        load_user_pool(_write_csv(tmp_path / "d.csv", lines), label="lab")


def test_single_class(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"single class .*4.*; need >= 2"):
        load_user_pool(_npz(tmp_path, X=_good_x(), y=np.full(30, 4)))


def test_single_class_message_names_the_label_plainly(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"single class \('4'\); need >= 2"):
        load_user_pool(_npz(tmp_path, X=_good_x(), y=np.full(30, 4)))


def test_csv_without_label(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "d.csv", ["a,lab", "1,0"])
    with pytest.raises(DataError, match="needs --label"):
        load_user_pool(path)


def test_csv_unknown_label_column_lists_columns(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "d.csv", ["width,height,kind", "1,2,a"])
    with pytest.raises(DataError, match="no label column 'class'; columns: width, height, kind"):
        load_user_pool(path, label="class")


def test_csv_non_numeric_feature_names_line_and_column(tmp_path: Path) -> None:
    """Line numbers count the header as line 1: data row 2 (0-based) is line 4."""
    lines = ["a,b,lab"] + [f"{i},{i},{i % 2}" for i in range(25)]
    lines[3] = "2,two,0"
    with pytest.raises(DataError, match="line 4, column 'b': 'two' is not a number"):
        load_user_pool(_write_csv(tmp_path / "d.csv", lines), label="lab")


def test_csv_ragged_row(tmp_path: Path) -> None:
    lines = ["a,b,lab"] + [f"{i},{i},{i % 2}" for i in range(25)]
    lines[5] = "4,0"
    with pytest.raises(DataError, match="line 6 has 2 fields, header has 3"):
        load_user_pool(_write_csv(tmp_path / "d.csv", lines), label="lab")


def test_csv_header_only(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="header row and at least one data row"):
        load_user_pool(_write_csv(tmp_path / "d.csv", ["a,lab"]), label="lab")


def test_csv_too_few_rows(tmp_path: Path) -> None:
    lines = ["a,lab"] + [f"{i},{i % 2}" for i in range(5)]
    with pytest.raises(DataError, match="5 samples is too few"):
        load_user_pool(_write_csv(tmp_path / "d.csv", lines), label="lab")
