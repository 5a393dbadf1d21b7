"""A user's own split: ``--split-column``, ``--test FILE``, ``obliviate split``, and forget
index files that name test or holdout rows (every bad row is named, not only the first)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from obliviate.cli import main

N = 60
# The split column below, by hand: rows 0, 5, ..., 55 are test (12 rows); 7, 14, 21, 28,
# 42, 49, 56 are holdout (the multiples of 7 that are not multiples of 5: 7 rows); the other
# 41 are training rows.
TEST_ROWS = list(range(0, N, 5))
HOLDOUT_ROWS = [7, 14, 21, 28, 42, 49, 56]
TRAIN_ROWS = [i for i in range(N) if i not in TEST_ROWS and i not in HOLDOUT_ROWS]


def _csv(path: Path, split: list[str] | None = None) -> Path:
    """N rows of two random features and a label (no two rows alike), optionally with a
    ``split`` column between the features and the label."""
    x = np.random.default_rng(3).normal(size=(N, 2))
    head = "a,b,split,y" if split is not None else "a,b,y"
    lines = [head]
    for i, (u, v) in enumerate(x):
        mid = f"{split[i]}," if split is not None else ""
        lines.append(f"{u:.5f},{v:.5f},{mid}{'cat' if u > v else 'dog'}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _marks() -> list[str]:
    return ["test" if i in TEST_ROWS else "holdout" if i in HOLDOUT_ROWS else "train"
            for i in range(N)]


def cli(tmp_path: Path, *argv: str) -> int:
    return main(["--home", str(tmp_path / "h"), "--quiet", *argv])


def one_line_error(capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("obliviate: error:")
    for n in needles:
        assert n in err[0], (n, err[0])
    return err[0]


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert cli(tmp_path, "run", *argv, "--method", "ga", "--set", "epochs=1", "--json") == 0
    record: dict[str, object] = json.loads(capsys.readouterr().out)
    return record


def test_split_column_decides_every_split(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    data = _csv(tmp_path / "t.csv", [m.upper() if i == 1 else f" {m}" for i, m in
                                     enumerate(_marks())])  # any case, spaces ignored
    (tmp_path / "f.txt").write_text("1 2 3 4")  # training rows under this split only
    record = _run(tmp_path, capsys, "--data", str(data), "--label", "y", "--split-column",
                  "split", "--forget", f"indices:{tmp_path / 'f.txt'}")
    sc = record["scenario"]
    assert isinstance(sc, dict)
    assert sc["sizes"] == {"forget": 4, "retain": 41 - 4, "test": 12, "holdout": 7}
    assert sc["forget_rows"] == [1, 2, 3, 4]
    assert sc["split"] == "column 'split'"


def test_test_file_makes_the_test_split(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    data = _csv(tmp_path / "t.csv")
    (tmp_path / "test.txt").write_text(",".join(map(str, TEST_ROWS)))
    (tmp_path / "f.txt").write_text("7\n14")  # training rows: only the listed rows test
    record = _run(tmp_path, capsys, "--data", str(data), "--label", "y", "--test",
                  str(tmp_path / "test.txt"), "--forget", f"indices:{tmp_path / 'f.txt'}")
    sc = record["scenario"]
    assert isinstance(sc, dict)
    # Every row not listed trains; the holdout split is empty (classifier metrics never
    # read it).
    assert sc["sizes"] == {"forget": 2, "retain": N - 12 - 2, "test": 12, "holdout": 0}
    assert sc["forget_rows"] == [7, 14]
    assert sc["split"] == f"--test {tmp_path / 'test.txt'}"


def _seeded_split(n: int) -> tuple[list[int], list[int], list[int]]:
    """The documented default, by hand: ``default_rng(0).permutation(n)``; the first 20%
    test, the next 10% holdout, the rest train."""
    order = np.random.default_rng(0).permutation(n)
    n_test, n_hold = round(0.2 * n), round(0.1 * n)
    return (sorted(order[n_test + n_hold:].tolist()), sorted(order[:n_test].tolist()),
            sorted(order[n_test:n_test + n_hold].tolist()))


def test_every_index_outside_training_is_named(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    data = _csv(tmp_path / "t.csv")
    train, test, holdout = _seeded_split(N)
    outside = sorted(test[:6] + holdout[:4])  # 10 rows the seeded split keeps from training
    (tmp_path / "f.txt").write_text(" ".join(map(str, [train[0], *outside])))
    assert cli(tmp_path, "run", "--data", str(data), "--label", "y", "--forget",
               f"indices:{tmp_path / 'f.txt'}", "--method", "ga") == 2
    one_line_error(capsys, "10 forget indices are not training rows",
                   ", ".join(map(str, outside[:8])) + ", ...", "obliviate split")


def test_split_command_lists_the_rows_runs_train_on(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    data = _csv(tmp_path / "t.csv")
    for name, rows in zip(("train", "test", "holdout"), _seeded_split(N), strict=True):
        assert cli(tmp_path, "split", "--data", str(data), "--label", "y", "--rows", name) == 0
        assert capsys.readouterr().out.split() == [str(r) for r in rows]
    marked = _csv(tmp_path / "m.csv", _marks())
    assert cli(tmp_path, "split", "--data", str(marked), "--label", "y", "--split-column",
               "split") == 0
    out = capsys.readouterr().out
    assert "60 source rows" in out and "41 train, 12 test, 7 holdout" in out
    assert "holdout rows: 7, 14, 21, 28, 42, 49, 56" in out
    assert "test rows: 0, 5, 10" in out and "train rows: 1-4, 6, 8-9, 11-13" in out


@pytest.mark.parametrize(("marks", "column", "needles"), [
    ({3: "tset", 9: "valid"}, "split", ["2 rows of split column 'split'", "row 3 'tset'",
                                        "row 9 'valid'"]),
    ({}, "fold", ["no split column 'fold'", "columns: a, b, split, y"]),
    ({i: "test" for i in range(N)}, "split", ["leaves no training rows"]),
    ({i: "train" for i in range(N)}, "split", ["gives no test rows"]),
])
def test_bad_split_column_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      marks: dict[int, str], column: str,
                                      needles: list[str]) -> None:
    split = [marks.get(i, m) for i, m in enumerate(_marks())]
    data = _csv(tmp_path / "t.csv", split)
    assert cli(tmp_path, "run", "--data", str(data), "--label", "y", "--split-column", column,
               "--forget", "random:0.1", "--method", "ga") == 2
    one_line_error(capsys, *needles)


def test_split_options_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _csv(tmp_path / "t.csv", _marks())
    base = ["run", "--forget", "random:0.1", "--method", "ga"]
    (tmp_path / "test.txt").write_text("3 60 61 -2")
    assert cli(tmp_path, *base, "--data", str(_csv(tmp_path / "p.csv")), "--label", "y",
               "--test", str(tmp_path / "test.txt")) == 2
    one_line_error(capsys, "3 test rows out of range", "rows 0..59", "-2, 60, 61")
    assert cli(tmp_path, *base, "--split-column", "split") == 2  # no --data
    one_line_error(capsys, "--split-column and --test split your own --data")
    assert cli(tmp_path, *base, "--data", str(data), "--label", "y", "--split-column",
               "split", "--test", str(tmp_path / "test.txt")) == 2  # argparse: not both
    one_line_error(capsys, "not allowed with argument")
    # The column is not a feature: without --split-column the CSV says what it is.
    assert cli(tmp_path, *base, "--data", str(data), "--label", "y") == 2
    one_line_error(capsys, "pass --split-column split")
    np.savez(tmp_path / "d.npz", X=np.random.default_rng(0).normal(size=(30, 2)),
             y=np.arange(30) % 2)
    assert cli(tmp_path, *base, "--data", str(tmp_path / "d.npz"), "--split-column",
               "split") == 2
    one_line_error(capsys, "--split-column is for CSV files", "--test FILE")
