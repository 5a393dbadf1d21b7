"""The language-model half of the runner: training, evaluation and record fields for
``people`` scenarios. ``runner.py`` dispatches here; nothing else imports it."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from obliviate.evaluate_lm import evaluate_lm
from obliviate.lm_training import train_lm
from obliviate.scenarios.people import PeopleData


def train(model: nn.Module, data: PeopleData, role: str, *, progress: bool) -> dict[str, Any]:
    split = data.train_split() if role == "original" else data.retain
    stats = train_lm(model, split, data.task, data.recipe, seed=data.seed,
                     judge=data.judge_split(role), desc=f"train {role}", progress=progress)
    return {"epochs": stats["epochs"], "exact_match": stats["exact_match"],
            "lr_scale": stats["lr_scale"]}


def exporter(model: nn.Module, data: PeopleData) -> Any:
    """Writes a ``save_pretrained`` copy (model and tokenizer) into a cache entry, so the
    original and the oracle load in any Hugging Face tool."""
    def export(entry: Path) -> None:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # our own bars say what is happening
        model.save_pretrained(entry / "hf", safe_serialization=True)  # type: ignore[operator]
        data.tokenizer.save_pretrained(entry / "hf")
    return export


def evaluate(models: dict[str, nn.Module], data: PeopleData, seed: int,
             arrays_out: dict[str, np.ndarray] | None = None, progress: bool = False,
             ) -> tuple[dict[str, Any], dict[str, Any]]:
    metrics, extra = evaluate_lm(models, data, seed=seed, arrays_out=arrays_out,
                                 progress=progress)
    return metrics, {"lm": extra}


def scenario_fields(data: PeopleData) -> dict[str, Any]:
    return {"model": data.model_path or "gpt2 " + " ".join(f"{k}={v}" for k, v in
                                                           asdict(data.size).items()),
            "sizes": data.sizes(), "recipe": asdict(data.recipe),
            "forget_people": list(data.forget_ids),
            "data_fingerprint": data.corpus.fingerprint()}
