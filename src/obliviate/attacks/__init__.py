"""Attacks: evaluations that try to get forgotten data back (DESIGN.md, "attacks/").

Each runs on a finished run's models (``Target``) and returns its record entry: the forget
metric before and after the attack, for the unlearned model and for the oracle under the
same attack, whose "after" value is what a model that never learned the data shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from obliviate.attacks import forms, quantize, relearn, shadow
from obliviate.attacks.target import Target
from obliviate.config import config_dict
from obliviate.errors import ObliviateError

# A forget metric more than this many points above the oracle's (after the same attack)
# means the data is not forgotten: "recovered" if it was forgotten before the attack.
MARGIN = 10.0


@dataclass(frozen=True)
class AttackSpec:
    name: str
    config: type
    kinds: tuple[str, ...]  # "classification", "lm", "graph"
    paper: str
    description: str
    run: Callable[..., dict[str, Any]]  # (target, cfg), or (target, pairs, cfg) for shadow


ATTACKS: dict[str, AttackSpec] = {
    "relearn": AttackSpec("relearn", relearn.RelearnConfig,
                          ("classification", "lm", "regression", "graph", "recommendation"),
                          "Hu et al. 2025, ICLR (targeted relearning attacks)",
                          "fine-tune a few steps on part of the forget set, test the rest",
                          relearn.attack),
    "quantize": AttackSpec("quantize", quantize.QuantizeConfig,
                           ("classification", "lm", "regression"),
                           "Zhang et al. 2025, ICLR (quantization recovers unlearned knowledge)",
                           "round weights to 8 and 4 bits per channel", quantize.attack),
    "forms": AttackSpec("forms", forms.FormsConfig, ("lm",),
                        "ORT / RWKU: unlearning should be form-independent",
                        "held-out question templates, fill-in-the-blank, multiple choice",
                        forms.attack),
    "shadow": AttackSpec("shadow", shadow.ShadowConfig, ("classification",),
                         "Hayes et al. 2024 (U-LiRA); NeurIPS 2023 unlearning challenge",
                         "K unlearned vs K retrained models, per forget example", shadow.attack),
}


def parse_attacks(text: str, kind: str) -> list[str]:
    """Names from ``--attack a,b`` (``all`` = every attack for this kind of model)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return [a.name for a in ATTACKS.values() if kind in a.kinds]
    for n in names:
        if n not in ATTACKS:
            raise ObliviateError(f"unknown attack {n!r}; attacks: {', '.join(ATTACKS)}, all")
        if kind not in ATTACKS[n].kinds:
            raise ObliviateError(f"attack {n!r} is for {' and '.join(ATTACKS[n].kinds)} runs, "
                                 f"not {kind}")
    if len(set(names)) != len(names) or not names:
        raise ObliviateError(f"--attack {text!r}: name each attack once")
    return names


def verdict(before: dict[str, float], after: dict[str, float]) -> str:
    """"survives", "recovered" (forgotten before, not after) or "not forgotten"."""
    if before["unlearned"] - before["oracle"] > MARGIN:
        return "not forgotten"
    return "recovered" if after["unlearned"] - after["oracle"] > MARGIN else "survives"


def run_attacks(names: list[str], configs: dict[str, object], target: Target,
                shadow_pairs: Callable[[int], list[tuple[nn.Module, nn.Module]]] | None,
                ) -> dict[str, Any]:
    """Every named attack's record entry. ``shadow_pairs(k)`` trains the shadow models."""
    out: dict[str, Any] = {}
    for name in names:
        cfg = configs[name]
        if name != "shadow":
            entry = ATTACKS[name].run(target, cfg)
        elif shadow_pairs is None:
            raise ObliviateError("the shadow attack needs a run that can train models")
        else:
            entry = ATTACKS[name].run(target, shadow_pairs(cfg.k), cfg)  # type: ignore[attr-defined]
        for v in entry.get("variants", {}).values():
            v["verdict"] = verdict(v["before"], v["after"])
        out[name] = {"metric": "U-LiRA / challenge score" if name == "shadow" else target.metric,
                     "unit": "%", "higher_is_better": False, "paper": ATTACKS[name].paper,
                     "config": config_dict(cfg), **entry}
    return out


__all__ = ["ATTACKS", "AttackSpec", "MARGIN", "Target", "parse_attacks", "run_attacks",
           "verdict"]
