"""What a run is configured with, checked before anything is trained: the method's config and
where it came from, and the attacks' configs; and, after unlearning, how much the method
changed the model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from obliviate.attacks import ATTACKS, parse_attacks
from obliviate.config import build_config
from obliviate.errors import ObliviateError
from obliviate.methods import MethodSpec
from obliviate.presets import chosen_on, preset_for


def method_config(method: MethodSpec, *, scenario: str, preset_scenario: str,
                  use_preset: bool, own_model: bool, model: str | None,
                  overrides: Mapping[str, object], forget: str | None = None,
                  ) -> tuple[Any, dict[str, object], dict[str, Any]]:
    """(config, preset, provenance): paper defaults, then a preset, then ``--set``.

    ``preset_scenario`` is the scenario itself, or, for a user's data file, the bundled
    scenario of that kind (the papers' defaults were chosen for CIFAR-scale or 7B models and
    barely move the small models a CPU trains). Presets were tuned on a scenario's own model,
    so ``--model`` with another architecture (``own_model`` False) runs without one. The
    provenance says which, in words (``source``, for the run output) and where the preset
    was chosen (``preset_chosen_on``), for the record.
    """
    preset = preset_for(preset_scenario, method.name, forget) if use_preset and own_model else {}
    if not use_preset:
        source = "the paper's defaults (--no-preset)"
    elif not own_model:
        source = (f"the paper's defaults: --model {model} is not the scenario's model, and "
                  "presets were tuned on that model")
    elif not preset:
        source = f"the paper's defaults (no preset for {method.name} on {preset_scenario})"
    else:
        where = chosen_on(preset_scenario, method.name, forget) or {}
        why = "" if preset_scenario == scenario else (
            f" (your data: the preset of the bundled {preset_scenario} scenario)")
        source = (f"the paper's defaults with the {preset_scenario} preset{why}, chosen on "
                  f"{where.get('scenario')} seeds {where.get('seeds')}")
    if overrides:
        source += f"; then --set {', '.join(f'{k}={v}' for k, v in overrides.items())}"
    provenance = {"source": source,
                  "preset_chosen_on": chosen_on(preset_scenario, method.name, forget) if preset
                  else None}
    return build_config(method.config, {**preset, **overrides}), preset, provenance


def attack_configs(attacks: tuple[str, ...], attack_overrides: Mapping[str, Mapping[str, object]],
                   kind: str) -> dict[str, object]:
    """The configs of the attacks a run asks for, checked before anything is trained."""
    names = parse_attacks(",".join(attacks), kind) if attacks else []
    stray = sorted(set(attack_overrides) - set(names))
    if stray:
        raise ObliviateError(f"--attack-set names {stray[0]!r}, which is not among the "
                             f"attacks of this run ({', '.join(names) or 'none'})")
    return {n: build_config(ATTACKS[n].config, dict(attack_overrides.get(n, {})))
            for n in names}


def weight_change(before: nn.Module, after: nn.Module) -> dict[str, float]:
    """How many weights the method changed, and the largest change: a method that changed
    none (SSD selecting nothing, an lr too small to move float32) unlearned nothing, and the
    verdict says so. Compared by name; weights a method added (a merged LoRA) have none."""
    old = before.state_dict()
    changed = total = 0
    largest = 0.0
    for name, new in after.state_dict().items():
        ref = old.get(name)
        if ref is None or ref.shape != new.shape or not new.is_floating_point():
            continue
        diff = (new.detach().cpu() - ref.detach().cpu()).abs()
        changed += int((diff > 0).sum())
        total += diff.numel()
        largest = max(largest, float(diff.max()) if diff.numel() else 0.0)
    return {"changed_parameters": changed, "parameters": total, "max_abs_change": largest}
