"""What a new user hit on the command line: paths the OS refuses, options after the command,
selector text echoed as typed, and a ``--help`` that waited for torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from obliviate.cli import main
from obliviate.scenarios import SCENARIOS

LONG = "x" * 300  # longer than any file name the OS allows (255 bytes on Linux and macOS)


def one_line_error(capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("obliviate: error:")
    for n in needles:
        assert n in err[0], (n, err[0])
    return err[0]


@pytest.mark.parametrize("argv", [
    ["run", "--data", f"{LONG}.csv", "--label", "y", "--forget", "class:1", "--method", "ga"],
    ["run", "--data", f"{LONG}.npz", "--forget", "class:1", "--method", "ga"],
    ["run", "--scenario", "people-small", "--data", f"{LONG}.jsonl", "--forget", "people:0.1",
     "--method", "ga"],
    ["run", "--forget", f"indices:{LONG}.txt", "--method", "ga", "--model", "mlp"],
    ["run", "--data", "{csv}", "--label", "y", "--test", f"{LONG}.txt", "--forget",
     "random:0.1", "--method", "ga"],
    ["split", "--data", "{csv}", "--label", "y", "--test", f"{LONG}.txt"],
    ["report", f"{LONG}.json", "-o", "r.html"],
    ["report", LONG, "-o", "r.html"],
    ["report", "{record_dir}", "-o", f"{LONG}.html"],
    ["--home", f"/tmp/{LONG}", "runs"],
    ["--home", f"/tmp/{LONG}", "report", "some-run-id", "-o", "r.html"],
    ["--home", f"/tmp/{LONG}", "run", "--forget", "class:3", "--method", "ga"],
])
def test_a_path_the_os_refuses_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch,
                                           argv: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    (tmp_path / "d.csv").write_text("a,y\n" + "\n".join(f"{v:.4f},{i % 2}" for i, v in
                                                      enumerate(rng.normal(size=40))))
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "r.json").write_text("{}")
    argv = [a.format(csv=tmp_path / "d.csv", record_dir=tmp_path / "records") for a in argv]
    home = [] if "--home" in argv else ["--home", str(tmp_path / "h")]
    assert main([*home, "--quiet", *argv]) == 2
    one_line_error(capsys, "xxxx")


def test_a_home_in_a_file_is_one_line(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "f").write_text("")
    assert main(["--home", str(tmp_path / "f" / "h"), "--quiet", "run", "--forget",
                 "class:3", "--method", "ga"]) == 2
    one_line_error(capsys, str(tmp_path / "f" / "h"))


def test_home_and_store_after_the_command(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--home", str(tmp_path / "a")]) == 0
    assert (tmp_path / "a" / "runs.sqlite").is_file()
    url = f"sqlite:///{tmp_path / 'b.sqlite'}"
    assert main(["runs", "--home", str(tmp_path / "c"), "--store", url]) == 0
    assert (tmp_path / "b.sqlite").is_file() and not (tmp_path / "c" / "runs.sqlite").exists()
    # Given before the command and not after, it is not reset by the subcommand.
    assert main(["--home", str(tmp_path / "d"), "runs", "--quiet"]) == 0
    assert (tmp_path / "d" / "runs.sqlite").is_file()


@pytest.mark.parametrize("command", ["run", "sequence", "split", "list", "show-config",
                                     "demo", "runs", "report", "dashboard"])
def test_every_command_help_lists_home_and_store(command: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "--home HOME" in out and "--store STORE" in out and "--quiet" in out


def test_run_help_names_the_registries(capsys: pytest.CaptureFixture[str]) -> None:
    """The names are filled in when the help is shown (``_Help``), not left as
    placeholders."""
    assert main(["run", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "{" not in out
    for name in ("digits-noisy", "scrub", "random:F", "relearn, quantize"):
        assert name in out


# ---- selector text: one canonical spelling ----------------------------------------------


def test_selector_text_is_canonical_in_records(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    long = "random:0." + "1" * 5000
    base = ["--home", str(tmp_path / "h"), "--quiet", "run", "--method", "ga", "--model",
            "mlp", "--set", "epochs=1"]
    assert main([*base, "--forget", long, "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    # float("0.111...1") is the double nearest 1/9 + ..., whose shortest repr has 16 ones.
    assert record["scenario"]["forget"] == "random:0.1111111111111111"
    assert main([*base, "--forget", "random:0.1111111111111111", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["scenario"]["forget_rows"] == record["scenario"]["forget_rows"]
    assert main([*base, "--forget", " class: 3 "]) == 0
    assert "forget class:3 (" in capsys.readouterr().out  # the run table's heading
    assert main([*base, "--forget", "random:" + "x" * 5000]) == 2
    assert len(one_line_error(capsys, "is not a number", "5007 characters")) < 300


@pytest.mark.parametrize(("text", "canonical"), [
    ("worst:0.050", "worst:0.05"),
    ("random: 5e-2 ", "random:0.05"),
    ("class: cat ", "class:cat"),
    (" indices : rows.txt", "indices:rows.txt"),
    ("random:abc", "random:abc"),  # left for select_forget to reject, with its message
    ("everything", "everything"),
])
def test_classifier_selector_text_is_canonical(text: str, canonical: str) -> None:
    from obliviate.tasks.classification.forget import canonical_forget

    assert canonical_forget(text) == canonical


@pytest.mark.parametrize(("text", "canonical"), [
    ("people:0.10", "people:0.1"),
    ("people:" + "0." + "1" * 5000, "people:0.1111111111111111"),
    (" people : 1e-1", "people:0.1"),
    ("ids: p001 , p003", "ids:p001,p003"),
    ("people:abc", "people:abc"),  # left for select_forget_people to reject
])
def test_people_selector_text_is_canonical(text: str, canonical: str) -> None:
    from obliviate.tasks.causal_lm.people import canonical_people_forget

    assert canonical_people_forget(text) == canonical


def test_people_scenario_records_the_canonical_text() -> None:
    data = SCENARIOS["people-small"].build("people:0.2500000000000000000001", 0)
    assert data.forget_spec == "people:0.25"
    assert data.forget_ids == SCENARIOS["people-small"].build("people:0.25", 0).forget_ids


# ---- a quick --help -----------------------------------------------------------------------


@pytest.mark.parametrize("code", [
    "import obliviate.cli",
    "from obliviate.cli import main; main(['--help'])",
    "from obliviate.cli import main; main(['run', '--forget'])",  # an argument error
    "from obliviate.cli import main; main(['run', '--method', 'ga'])",  # a missing one
    "from obliviate.cli import main; main(['--home', sys.argv[1], 'runs'])",
])
def test_cli_answers_without_torch(code: str, tmp_path: Path) -> None:
    probe = f"import sys; {code}; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "h")],
                         capture_output=True, text=True, check=False)
    assert out.stdout.strip().splitlines()[-1] == "False False", (out.stdout, out.stderr)
