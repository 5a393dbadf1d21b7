"""``obliviate grid``: every cell runs once, finished cells are skipped, a grid whose cells
failed or whose workers died resumes, and Ray runs the same grid to the same numbers.

The cells are the tiny digits scenario (an MLP trained 10 epochs, about a second) with
fine-tuning and random labels, and two planted methods: one that raises until a file exists,
one whose worker process dies the first time (it leaves a file behind, then exits).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from torch import nn

import obliviate
from conftest import TINY
from obliviate.cli import main
from obliviate.methods import METHODS, MethodSpec, random_label
from obliviate.scenarios import SCENARIOS
from obliviate.storage.records import read_record
from obliviate.types import Task, UnlearnData, UnlearnResult
from obliviate.views.tables import leaderboard

GRID = ["grid", "--scenarios", "tiny", "--forget", "class:3", "--no-noise-floor", "--quiet"]


@dataclass(frozen=True)
class PlantedConfig:
    marker: str = ""  # the file that tells a first attempt from a later one
    how: str = "exit"  # dies_once: "exit" (os._exit) or "kill" (SIGKILL to itself)


def _random_labels(model: nn.Module, data: UnlearnData, task: Task, seed: int) -> UnlearnResult:
    return random_label.unlearn(model, data, random_label.RandomLabelConfig(), task=task,
                                seed=seed)


def raises_until_fixed(model: nn.Module, data: UnlearnData, cfg: PlantedConfig, *, task: Task,
                       seed: int) -> UnlearnResult:
    if not Path(cfg.marker).exists():
        raise RuntimeError("planted failure")
    return _random_labels(model, data, task, seed)


def dies_once(model: nn.Module, data: UnlearnData, cfg: PlantedConfig, *, task: Task,
              seed: int) -> UnlearnResult:
    """The worker process dies mid-run on the first attempt, as an out-of-memory kill would."""
    marker = Path(cfg.marker)
    if not marker.exists():
        marker.touch()
        if cfg.how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        os._exit(1)
    return _random_labels(model, data, task, seed)


def sleeps_once(model: nn.Module, data: UnlearnData, cfg: PlantedConfig, *, task: Task,
                seed: int) -> UnlearnResult:
    """The first attempt marks that it started, then hangs (until the grid is killed)."""
    marker = Path(cfg.marker)
    if not marker.exists():
        marker.touch()
        time.sleep(120)
    return _random_labels(model, data, task, seed)


PLANTED = {
    "raises": MethodSpec("raises", PlantedConfig, raises_until_fixed, ("classification",),
                         "planted: raises until its marker file exists"),
    "dies_once": MethodSpec("dies_once", PlantedConfig, dies_once, ("classification",),
                            "planted: its worker dies on the first attempt"),
    "sleeps_once": MethodSpec("sleeps_once", PlantedConfig, sleeps_once, ("classification",),
                              "planted: hangs on the first attempt"),
}


@contextlib.contextmanager
def planted() -> Iterator[None]:
    """The tiny scenario and the planted methods in the registries (also for a grid run in a
    subprocess)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(SCENARIOS, "tiny", replace(TINY, name="tiny"))
        for name, spec in PLANTED.items():
            mp.setitem(METHODS, name, spec)
        yield


@pytest.fixture(scope="module", autouse=True)
def registered() -> Iterator[None]:
    with planted():
        yield


def grid(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*GRID, *args])
    return code, out.getvalue(), err.getvalue()


def records(home: Path) -> dict[tuple[str, int], dict[str, Any]]:
    """(method, seed) -> record, of every record file under ``home``; each cell once."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for path in sorted((home / "runs").glob("*.json")):
        r = read_record(path)
        key = (r["method"]["name"], r["scenario"]["seed"])
        assert key not in out, f"cell {key} was run twice"
        out[key] = r
    return out


@pytest.fixture(scope="module")
def local_grid(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str]:
    """ft and rl on seeds 0 and 1: four cells on two worker processes."""
    home = tmp_path_factory.mktemp("local") / "home"
    code, out, _ = grid("--methods", "ft,rl", "--seeds", "0,1", "--jobs", "2",
                        "--home", str(home))
    return home, code, out


def test_grid_runs_every_cell_and_prints_their_leaderboard(
        local_grid: tuple[Path, int, str]) -> None:
    home, code, out = local_grid
    assert code == 0
    found = records(home)
    assert sorted(found) == [("ft", 0), ("ft", 1), ("rl", 0), ("rl", 1)]
    assert all(r["method"]["config"]["epochs"] > 0 for r in found.values())
    assert "== tiny · forget class:3 · seeds 0, 1" in out
    assert leaderboard([found[k] for k in sorted(found)]) in out


def test_rerun_skips_finished_cells_and_runs_only_new_ones(
        local_grid: tuple[Path, int, str], tmp_path: Path) -> None:
    home = tmp_path / "home"  # a copy: the Ray test compares with the fixture's records
    shutil.copytree(local_grid[0], home)
    first = local_grid[2]
    before = {k: r["run_id"] for k, r in records(home).items()}
    code, out, _ = grid("--methods", "ft,rl", "--seeds", "0,1", "--home", str(home))
    assert code == 0
    assert {k: r["run_id"] for k, r in records(home).items()} == before  # nothing re-run
    assert "4 already finished, 0 run now" in out
    assert out.split("grid:")[0] == first.split("grid:")[0]  # the same leaderboard
    # A new seed runs its two cells only; a changed config re-runs that method's cells only.
    assert grid("--methods", "ft,rl", "--seeds", "0,1,2", "--home", str(home))[0] == 0
    assert grid("--methods", "ft,rl", "--seeds", "0", "--set", "rl.epochs=2",
                "--home", str(home))[0] == 0
    after = records_by_config(home)
    assert sorted(after) == [("ft", 0, 10), ("ft", 1, 10), ("ft", 2, 10), ("rl", 0, 2),
                             ("rl", 0, 10), ("rl", 1, 10), ("rl", 2, 10)]


def records_by_config(home: Path) -> list[tuple[str, int, int]]:
    rs = [read_record(p) for p in (home / "runs").glob("*.json")]
    return sorted((r["method"]["name"], r["scenario"]["seed"], r["method"]["config"]["epochs"])
                  for r in rs)


def test_failed_cells_are_reported_and_the_grid_resumes(tmp_path: Path) -> None:
    """A cell that raises and a cell whose worker is killed (no retries) fail; the others
    finish. Once the cause is gone, re-running the grid runs exactly the two failed cells."""
    home, fixed, died = tmp_path / "home", tmp_path / "fixed", tmp_path / "died"
    args = ("--methods", "rl,raises,dies_once", "--seeds", "0", "--retries", "0",
            "--set", f"raises.marker={fixed}", f"dies_once.marker={died}", "dies_once.how=kill",
            "--home", str(home))
    code, out, err = grid(*args)
    assert code == 1
    assert sorted(records(home)) == [("rl", 0)]
    assert "failed: tiny class:3 raises seed 0: RuntimeError: planted failure" in out
    assert ("failed: tiny class:3 dies_once seed 0: its worker process died (killed by "
            "SIGKILL), 1 time(s)") in out
    assert "cell tiny class:3 raises seed 0 failed" in err
    rl_run = records(home)[("rl", 0)]["run_id"]
    fixed.touch()
    code, out, _ = grid(*args)
    assert code == 0, out
    assert "1 already finished, 2 run now, 0 failed" in out
    found = records(home)
    assert sorted(found) == [("dies_once", 0), ("raises", 0), ("rl", 0)]
    assert found[("rl", 0)]["run_id"] == rl_run


def test_a_killed_grid_resumes(tmp_path: Path) -> None:
    """The grid's own process is killed (SIGKILL) in the middle of its second cell: the first
    cell's record stays and counts, the second left nothing; the next grid runs the second
    cell only."""
    home, started = tmp_path / "home", tmp_path / "started"
    argv = [*GRID, "--methods", "rl,sleeps_once", "--jobs", "1",
            "--set", f"sleeps_once.marker={started}", "--home", str(home)]
    script = ("import sys, test_grid; from obliviate.cli import main\n"
              "with test_grid.planted(): sys.exit(main(sys.argv[1:]))")
    paths = [str(Path(obliviate.__file__).parent.parent), str(Path(__file__).parent)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    proc = subprocess.Popen([sys.executable, "-c", script, *argv], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert started.exists(), "the second cell never started"
    finally:
        proc.kill()
        proc.wait()
    assert sorted(records(home)) == [("rl", 0)]
    rl_run = records(home)[("rl", 0)]["run_id"]
    code, out, _ = grid(*argv[len(GRID):])
    assert code == 0, out
    assert "1 already finished, 1 run now, 0 failed" in out
    assert sorted(records(home)) == [("rl", 0), ("sleeps_once", 0)]
    assert records(home)[("rl", 0)]["run_id"] == rl_run


def test_a_dead_local_worker_is_retried(tmp_path: Path) -> None:
    died = tmp_path / "died"
    code, out, _ = grid("--methods", "dies_once", "--seeds", "0,1", "--jobs", "2",
                        "--set", f"dies_once.marker={died}", "--home", str(tmp_path / "home"))
    assert code == 0, out
    assert died.exists()  # a first attempt did die
    assert sorted(records(tmp_path / "home")) == [("dies_once", 0), ("dies_once", 1)]


@pytest.mark.parametrize(("args", "message"), [
    (["--scenarios", "nope", "--methods", "ft"], "unknown scenario 'nope'; valid scenarios"),
    (["--scenarios", "tiny", "--methods", "ft,nope"], "unknown method 'nope'; valid methods"),
    (["--scenarios", "tiny", "--methods", "ft", "--seeds", "0,x"],
     "--seeds '0,x': 'x' is not a whole number"),
    (["--scenarios", "tiny", "--methods", "ft", "--seeds", "0,,1"],
     "--seeds '0,,1': '' is not a whole number"),
    (["--scenarios", "tiny", "--methods", "npo"], "method 'npo' does not support the "
                                                   "'classification' task"),
    (["--scenarios", "tiny", "--methods", "ft", "--forget", "colour:3"], "colour:3"),
    (["--scenarios", "tiny", "--methods", "ft", "--set", "rl.lr=1"],
     "--set names method 'rl', which is not among the grid's methods (ft)"),
    (["--scenarios", "tiny", "--methods", "ft", "--set", "ft.nope=1"], "nope"),
    (["--scenarios", "tiny", "--methods", "ft", "--jobs", "0"],
     "argument --jobs: 0 must be at least 1"),
    (["--scenarios", "tiny", "--methods", "ft", "--retries", "x"],
     "argument --retries: 'x' is not a whole number"),
    (["--scenarios", "tiny", "--methods", "ft", "--jobs", "2", "--ray", "local"],
     "--jobs is for the local pool"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          args: list[str], message: str) -> None:
    forget = [] if "--forget" in args else ["--forget", "class:3"]
    code = main(["grid", *forget, *args, "--home", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "cache").exists() and not (tmp_path / "runs").exists()


def test_ray_not_installed_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    assert main(["grid", "--scenarios", "tiny", "--methods", "ft", "--forget", "class:3",
                 "--ray", "local", "--home", str(tmp_path)]) == 2
    assert capsys.readouterr().err == ("obliviate: error: --ray needs the ray package: pip "
                                       "install 'obliviate[ray]'\n")


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    """A local Ray instance of two CPUs whose workers import obliviate (and this module, for
    the planted methods) from where this process did."""
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install "
                                            "'obliviate[ray]')")
    paths = [str(Path(obliviate.__file__).parent.parent), str(Path(__file__).parent)]
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(paths + ([old] if old else []))
    try:
        # Ray's log handler keeps the stderr of its init (pytest's capture, closed later).
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.ERROR)
        yield ray
    finally:
        ray.shutdown()
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def _values(r: dict[str, Any]) -> dict[str, Any]:
    """Every metric's value per role, without the times (RTE)."""
    return {name: {k: v for k, v in m.items() if k != "unit"} for name, m in r["metrics"].items()
            if name != "RTE"}


def test_ray_runs_the_same_grid_to_the_same_numbers(
        local_grid: tuple[Path, int, str], ray_cluster: Any, tmp_path: Path) -> None:
    code, out, _ = grid("--methods", "ft,rl", "--seeds", "0,1", "--ray", "auto",
                        "--home", str(tmp_path / "home"))
    assert code == 0, out
    on_ray, local = records(tmp_path / "home"), records(local_grid[0])
    assert sorted(on_ray) == sorted(local)
    for key, r in on_ray.items():
        assert _values(r) == _values(local[key]), key


def test_a_ray_task_whose_worker_dies_is_retried(ray_cluster: Any, tmp_path: Path) -> None:
    died = tmp_path / "died"
    code, out, _ = grid("--methods", "dies_once", "--seeds", "0", "--ray", "auto",
                        "--set", f"dies_once.marker={died}", "--home", str(tmp_path / "home"))
    assert code == 0, out
    assert died.exists()
    assert sorted(records(tmp_path / "home")) == [("dies_once", 0)]


def test_the_classifier_benchmark_is_a_grid_that_resumes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """benchmarks/classifier.py on one tiny section: its table and bars; run again with the
    same --home, it runs nothing and prints the same."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_classifier", Path(__file__).parent.parent / "benchmarks" / "classifier.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(bench, "SECTIONS", (("tiny", "class:3", "classification", "why"),))
    argv = ["--seeds", "0", "--methods", "ft,rl", "--home", str(tmp_path)]
    assert bench.main(argv) == 0
    first = capsys.readouterr()
    found = records(tmp_path)
    assert sorted(found) == [("ft", 0), ("rl", 0)]
    assert "### tiny · forget class:3 — why; seeds 0, mean ± std" in first.out
    assert leaderboard([found[("ft", 0)], found[("rl", 0)]]) in first.out
    assert "tiny class:3: Avg.Gap <= 1.0 at <= 5% of retraining:" in first.out
    assert bench.main(argv) == 0
    again = capsys.readouterr()
    assert again.out == first.out and again.err == ""  # no cell ran
    assert {k: r["run_id"] for k, r in records(tmp_path).items()} == {
        k: r["run_id"] for k, r in found.items()}


def test_the_regression_benchmark_is_a_grid_that_resumes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """benchmarks/regression.py on the tiny regression scenario, with a target-range forget
    set (recorded in its normal form, range:0.0:inf): run again with the same --home, it runs
    no cell and prints the same table and bars."""
    import importlib.util

    from test_regression import TINY as TINY_REGRESSION

    spec = importlib.util.spec_from_file_location(
        "bench_regression", Path(__file__).parent.parent / "benchmarks" / "regression.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setitem(SCENARIOS, TINY_REGRESSION.name, TINY_REGRESSION)
    monkeypatch.setattr(bench, "SECTIONS", ((TINY_REGRESSION.name, "range:0:inf", "why"),))
    argv = ["--seeds", "0", "--methods", "ft,ga", "--home", str(tmp_path)]
    assert bench.main(argv) == 0
    first = capsys.readouterr()
    found = records(tmp_path)
    assert sorted(found) == [("ft", 0), ("ga", 0)]
    assert {r["scenario"]["forget"] for r in found.values()} == {"range:0.0:inf"}
    assert f"### {TINY_REGRESSION.name} · forget range:0:inf — why; seeds 0, mean ± std" in (
        first.out)
    assert leaderboard([found[("ft", 0)], found[("ga", 0)]]) in first.out
    assert f"- {TINY_REGRESSION.name} range:0:inf: gap <= " in first.out
    assert bench.main(argv) == 0
    again = capsys.readouterr()
    assert again.out == first.out and again.err == ""  # no cell ran
    assert {k: r["run_id"] for k, r in records(tmp_path).items()} == {
        k: r["run_id"] for k, r in found.items()}
