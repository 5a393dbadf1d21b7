"""The command line, driven through ``main(argv)`` as a user would type it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from obliviate.attacks import ATTACKS
from obliviate.cli import main
from obliviate.methods import METHODS
from obliviate.metrics import METRICS
from obliviate.scenarios import SCENARIOS
from obliviate.storage.records import read_record
from obliviate.storage.store import Store, sqlite_url

FAST = ["--model", "mlp"]


def cli(home: Path, *argv: str) -> int:
    return main(["--home", str(home), "--quiet", *argv])


def one_line_error(capsys: pytest.CaptureFixture[str], *needles: str) -> None:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("obliviate: error:")
    for n in needles:
        assert n in err[0], (n, err[0])


def test_run_writes_record_store_and_reuses_cache(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "h"
    assert cli(home, "run", "--forget", "class:3", "--method", "ga", *FAST,
               "--set", "lr=0.002", "epochs=3") == 0
    out = capsys.readouterr().out
    assert "oracle" in out and "UA (%)" in out and "Avg.Gap" in out and "% of retraining" in out
    path = Path(out.strip().splitlines()[-1].removeprefix("record: "))
    record = read_record(path)
    assert record["method"]["config"]["lr"] == 0.002
    assert record["method"]["config"]["epochs"] == 3
    assert record["scenario"]["forget"] == "class:3"
    assert record["metrics"]["UA"]["oracle"] == 100.0  # the oracle never saw a 3
    # nor did the noise floor (an exact retrain from another initialisation): it is recorded
    assert record["metrics"]["UA"]["independent"] == 100.0
    assert record["metrics"]["Avg.Gap"]["independent"] is not None
    listed = Store(sqlite_url(home / "runs.sqlite")).list()
    assert [r["run_id"] for r in listed] == [record["run_id"]]

    def no_training(*a: object, **k: object) -> None:
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr("obliviate.tasks.classification.training.train", no_training)
    assert cli(home, "run", "--forget", "class:3", "--method", "ga", *FAST) == 0
    assert len(Store(sqlite_url(home / "runs.sqlite")).list()) == 2


def test_corrupt_cache_entry_is_rebuilt(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str],
                                        caplog: pytest.LogCaptureFixture) -> None:
    home = tmp_path / "h"
    args = ("run", "--forget", "random:0.1", "--seed", "1", "--method", "ft", *FAST,
            "--set", "epochs=1")
    assert cli(home, *args) == 0
    first = read_record(sorted((home / "runs").glob("*.json"))[0])
    for weights in (home / "cache").glob("*/model.safetensors"):
        weights.write_bytes(weights.read_bytes()[:100])  # a partial write
    assert cli(home, *args) == 0
    assert "corrupt" in caplog.text
    second = read_record(max((home / "runs").glob("*.json"), key=lambda p: p.stat().st_mtime))
    # Rebuilt from scratch with the same seed: the same original and oracle.
    for name in ("RA", "TA"):
        for role in ("original", "oracle"):
            assert first["metrics"][name][role] == second["metrics"][name][role]


def test_json_output_and_user_npz(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    np.savez(tmp_path / "mine.npz", X=x, y=y)
    assert cli(tmp_path / "h", "run", "--data", str(tmp_path / "mine.npz"),
               "--forget", "random:0.1", "--method", "ft", "--set", "epochs=1", "--json") == 0
    record = json.loads(capsys.readouterr().out)
    assert record["scenario"]["model"] == "mlp"  # chosen from the (n, 5) shape
    assert record["scenario"]["sizes"]["forget"] == round(0.1 * record["scenario"]["sizes"]
                                                          ["retain"] / 0.9)


def test_user_data_gets_the_bundled_preset_and_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--data used to drop the scenario's preset silently (paper defaults barely move a small
    model): now the digits preset applies, and the output and the record say so."""
    from obliviate.presets import preset_for

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5))
    np.savez(tmp_path / "mine.npz", X=x, y=(x[:, 0] > 0).astype(int))
    assert cli(tmp_path / "h", "run", "--data", str(tmp_path / "mine.npz"),
               "--forget", "random:0.1", "--method", "rl") == 0
    out = capsys.readouterr().out
    assert "config: the paper's defaults with the digits preset (your data" in out
    record = read_record(next((tmp_path / "h" / "runs").glob("*.json")))
    preset = preset_for("digits", "rl", "random:0.1")  # random forgetting has its own
    assert record["method"]["preset"] == preset != {}
    assert record["method"]["config"]["lr"] == preset["lr"]
    assert record["method"]["preset_chosen_on"]["scenario"] == "digits"
    assert cli(tmp_path / "h", "run", "--data", str(tmp_path / "mine.npz"),
               "--forget", "random:0.1", "--method", "rl", "--no-preset") == 0
    assert "config: the paper's defaults (--no-preset)" in capsys.readouterr().out


def test_user_csv_with_label_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(1)
    lines = ["a,b,kind"] + [f"{u:.4f},{v:.4f},{'cat' if u > v else 'dog'}"
                            for u, v in rng.normal(size=(120, 2))]
    (tmp_path / "t.csv").write_text("\n".join(lines))
    assert cli(tmp_path / "h", "run", "--data", str(tmp_path / "t.csv"), "--label", "kind",
               "--forget", "class:cat", "--method", "ga", "--set", "epochs=1") == 0
    assert "forget class:cat" in capsys.readouterr().out


def test_list_and_show_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(tmp_path, "list") == 0
    out = capsys.readouterr().out
    for name in [*SCENARIOS, *METRICS]:
        assert name in out
    for m in METHODS.values():
        assert m.name in out and m.paper in out
    for a in ATTACKS.values():
        assert f"  {a.name}" in out and a.paper in out
    assert cli(tmp_path, "show-config", "scrub", "--scenario", "digits") == 0
    out = capsys.readouterr().out
    assert METHODS["scrub"].paper in out and "preset for digits" in out
    assert "lr" in out or "sgda_lr" in out


@pytest.mark.parametrize(("argv", "needles"), [
    (["run", "--forget", "class:3", "--method", "nope"], ["'nope'", "valid methods", "scrub"]),
    (["run", "--scenario", "mnist", "--forget", "class:3", "--method", "ga"],
     ["'mnist'", "digits"]),
    (["run", "--forget", "class:3", "--method", "ga", "--set", "lrr=1"],
     ["no field 'lrr'", "valid fields"]),
    (["run", "--forget", "class:3", "--method", "ga", "--set", "lr=fast"],
     ["'fast'", "float"]),
    (["run", "--forget", "class:3", "--method", "ga", "--set", "epochs=0"], ["epochs=0"]),
    (["run", "--forget", "random:0.0001", "--method", "ga"], ["empty"]),
    (["run", "--forget", "class:12", "--method", "ga"], ["class 12 out of range"]),
    (["run", "--forget", "everything", "--method", "ga"], ["bad forget set 'everything'"]),
    (["run", "--data", "/no/such.npz", "--forget", "class:1", "--method", "ga"],
     ["/no/such.npz", "does not exist"]),
    (["show-config", "nope"], ["'nope'"]),
    (["run", "--forget", "class:3"], ["--method"]),
])
def test_bad_input_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      argv: list[str], needles: list[str]) -> None:
    assert cli(tmp_path / "h", *argv) == 2
    one_line_error(capsys, *needles)


def test_forget_indices_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "big.txt").write_text("5 99999")
    assert cli(tmp_path / "h", "run", "--forget", f"indices:{tmp_path / 'big.txt'}",
               "--method", "ga", *FAST) == 2
    one_line_error(capsys, "99999", "out of range")
    (tmp_path / "empty.txt").write_text("")
    assert cli(tmp_path / "h", "run", "--forget", f"indices:{tmp_path / 'empty.txt'}",
               "--method", "ga", *FAST) == 2
    one_line_error(capsys, "empty")


def test_unreadable_cache_is_a_clear_error(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "h"
    home.mkdir()
    (home / "cache").write_text("not a directory")
    assert cli(home, "run", "--forget", "class:3", "--method", "ga", *FAST) == 2
    one_line_error(capsys, "cache", "not a directory")
    assert not list((home / "runs").glob("*"))  # nothing half-written


def test_demo_prints_a_ranked_leaderboard(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(tmp_path / "h", "demo", "--methods", "bad_teacher", "--task",
               "classification") == 0
    out = capsys.readouterr().out
    assert out.count("oracle (retrain)") == 3 and out.count("original (no unlearning)") == 3
    for section in ("digits · forget class:3", "digits · forget random:0.1",
                    "digits-noisy · forget random:0.1"):
        assert section in out


def test_lora_on_a_classifier_is_refused_before_training(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    def no_training(*a: object, **k: object) -> None:
        raise AssertionError("trained before refusing --lora")

    monkeypatch.setattr("obliviate.tasks.classification.training.train", no_training)
    assert cli(tmp_path / "h", "run", "--forget", "class:3", "--method", "ga", "--lora") == 2
    one_line_error(capsys, "--lora", "language models")


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_before_or_after_the_command(tmp_path: Path, where: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    args = ["run", "--forget", "class:3", "--method", "nope"]
    argv = ["--quiet", *args] if where == "before" else [*args, "--quiet"]
    assert main(["--home", str(tmp_path), *argv]) == 2  # parsed; fails on the method only
    one_line_error(capsys, "'nope'")


def test_list_prints_every_metrics_reference_and_departures(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Each departure from a reference, as written in the registry, reaches the user."""
    from obliviate.metrics.registry import METRICS

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for m in METRICS.values():
        assert m.name in out and f"reference: {m.reference}" in out
        for d in m.departures:
            assert f"departs: {d}" in out
    assert "Extraction strength (D_f)" in out and "floors at 1/|a|" in out
