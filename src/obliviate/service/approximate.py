"""The ``approximate`` policy: a deployment trained once on all its rows honours a batch of
deletions with a named obliviate method (``methods/``), proves the deleted rows now look
like rows the model never saw, and is retrained from scratch after ``budget`` approximate
deletions (approximate unlearning drifts; a full retrain resets the debt).

Verification compares the deleted rows with the scenario's holdout rows, which no version
was ever trained on (the reference a membership attacker would use):

* **loss distribution**: the two-sample Kolmogorov-Smirnov test of per-sample losses
  (forget vs held out); passes while its p-value is at least ``loss_ks_p_min``;
* **membership attack**: the ROC-AUC of the loss-threshold attack (Yeom et al. 2018, CSF:
  a lower loss says "member"); 0.5 is chance, passes while at most ``mia_auc_max``;
* **accuracy on the deleted rows** minus accuracy on the held-out rows (a classifier that
  still knows the deleted rows better than unseen ones remembers them); passes while at
  most ``forget_acc_gap_max``.

Subjects, manifests and version files are as in the exact policy (``exact.py``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from scipy.stats import ks_2samp
from torch import nn

from obliviate.config import build_config, config_dict
from obliviate.errors import ObliviateError
from obliviate.methods import get_method
from obliviate.metrics.lm_mia import mia_auc
from obliviate.service import data as rows_of
from obliviate.service.crash import point
from obliviate.service.exact import write_version
from obliviate.tasks.classification.models import build_model
from obliviate.tasks.classification.scenario import ScenarioData
from obliviate.tasks.classification.training import train
from obliviate.types import Split, UnlearnData

FORMAT = "obliviate.model/1"


@dataclass(frozen=True)
class Thresholds:
    """Pass/fail bounds of an approximate deletion's verification (module docstring)."""
    mia_auc_max: float = 0.7  # 0.5 = chance; a handful of rows makes the AUC noisy
    loss_ks_p_min: float = 0.01  # reject "same loss distribution" only at the 1% level
    forget_acc_gap_max: float = 0.1  # accuracy points (as a fraction) above held-out rows

    def __post_init__(self) -> None:
        if not (0.0 <= self.mia_auc_max <= 1.0 and 0.0 <= self.loss_ks_p_min <= 1.0
                and -1.0 <= self.forget_acc_gap_max <= 1.0):
            raise ValueError(f"thresholds mia_auc_max={self.mia_auc_max}, loss_ks_p_min="
                             f"{self.loss_ks_p_min} (want [0, 1]), forget_acc_gap_max="
                             f"{self.forget_acc_gap_max} (want [-1, 1])")


@dataclass(frozen=True)
class ApproxDeployment:
    scenario: str = "digits"
    seed: int = 0
    model: str = "mlp"
    epochs: int | None = None  # None: the scenario recipe's
    subjects: int = 200  # row r belongs to subject user-<r mod subjects> (exact.py)
    method: str = "ft"
    method_config: dict[str, Any] = field(default_factory=dict)  # the method's overrides
    thresholds: dict[str, Any] = field(default_factory=dict)  # Thresholds overrides
    budget: int = 10  # approximate deletion requests before a full retrain is scheduled
    # The user's own CSV instead of the scenario (service/data.py), pinned by its sha256.
    data: str | None = None
    label: str | None = None
    subject_column: str | None = None  # None: subjects as for a bundled scenario
    data_sha256: str | None = None

    def __post_init__(self) -> None:
        rows_of.check(self, "approximate")
        if self.budget < 1:
            raise ObliviateError(f"budget={self.budget}: want >= 1")
        self.method_cfg()  # unknown methods, keys and bad values fail here
        self.bounds()

    def method_cfg(self) -> Any:
        return build_config(get_method(self.method, "classification").config,
                            self.method_config)

    def bounds(self) -> Thresholds:
        out: Thresholds = build_config(Thresholds, self.thresholds)
        return out

    @classmethod
    def from_json(cls, text: str) -> ApproxDeployment:
        return cls(**json.loads(text))

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


def scenario_data(cfg: ApproxDeployment) -> ScenarioData:
    return rows_of.build(cfg)[0]


def rows(split: Split, ids: set[int], keep: bool) -> Split:
    """The rows of ``split`` whose id is in ``ids`` (``keep``) or not in it."""
    mask = np.array([(int(i) in ids) == keep for i in split.ids], dtype=bool)
    return split.subset(np.nonzero(mask)[0])


def train_full(d: ScenarioData, retained: Split, seed: int) -> nn.Module:
    model = build_model(d.model, d.pool.input_shape, d.n_classes, seed)
    return train(model, retained, d.task, d.recipe, seed=seed, progress=False)


def load(d: ScenarioData, path: Path) -> nn.Module:
    model = build_model(d.model, d.pool.input_shape, d.n_classes, 0)
    model.load_state_dict(load_file(str(path)))
    return model.eval()


def save(root: Path, model: nn.Module) -> tuple[Path, str]:
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return write_version(root, state, FORMAT)


def checks(forget_loss: np.ndarray, forget_correct: np.ndarray, ref_loss: np.ndarray,
           ref_correct: np.ndarray, t: Thresholds) -> dict[str, Any]:
    """The three verification metrics and their pass/fail (module docstring); pure."""
    if len(forget_loss) == 0 or len(ref_loss) == 0:
        raise ValueError(f"verification needs forget ({len(forget_loss)}) and held-out "
                         f"({len(ref_loss)}) rows")
    auc = mia_auc(-forget_loss, -ref_loss)  # lower loss = "member" (Yeom et al. 2018)
    ks = ks_2samp(forget_loss, ref_loss)
    gap = float(np.mean(forget_correct) - np.mean(ref_correct))
    metrics = {"mia_auc": auc, "loss_ks_statistic": float(ks.statistic),
               "loss_ks_p": float(ks.pvalue), "forget_accuracy": float(np.mean(forget_correct)),
               "heldout_accuracy": float(np.mean(ref_correct)), "forget_acc_gap": gap,
               "forget_mean_loss": float(np.mean(forget_loss)),
               "heldout_mean_loss": float(np.mean(ref_loss)),
               "forget_rows": len(forget_loss), "heldout_rows": len(ref_loss)}
    passed = {"mia_auc_at_most_max": auc <= t.mia_auc_max,
              "loss_distribution_not_distinguishable": float(ks.pvalue) >= t.loss_ks_p_min,
              "forget_accuracy_gap_at_most_max": gap <= t.forget_acc_gap_max}
    return {"metrics": metrics, "checks": passed, "thresholds": config_dict(t)}


def losses(d: ScenarioData, model: nn.Module, split: Split) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample loss and correctness of ``model`` on ``split``."""
    model.eval()
    with torch.no_grad():
        batch = next(split.batches(len(split)))
        loss = d.task.per_sample_loss(model, batch).numpy().astype(np.float64)
        correct = (model(batch.inputs).argmax(1) == batch.targets).numpy()
    return loss, correct.astype(np.float64)


def honour(cfg: ApproxDeployment, root: Path, parent: Path, deleted: set[int],
           new: list[int], attempt: int,
           set_state: Callable[[str], None]) -> tuple[Path, str, dict[str, Any]]:
    """Unlearn ``new`` from the parent version with the deployment's method, verify, save.
    A retry (``attempt`` > 1) runs the method with another seed."""
    d = scenario_data(cfg)
    trained = d.train_split()
    forget = rows(trained, set(new), keep=True)
    retain = rows(trained, deleted | set(new), keep=False)
    model = load(d, parent)
    seed = cfg.seed + 1000 * (attempt - 1)
    info: dict[str, float] = {}
    if new:
        spec = get_method(cfg.method, "classification")
        with torch.enable_grad():
            result = spec.unlearn(model, UnlearnData(forget, retain, d.recipe),
                                  cfg.method_cfg(), task=d.task, seed=seed)
        model, info = result.model, dict(result.info)
    point("unlearning.done")
    set_state("verifying")
    point("verifying.committed")
    if new:
        report = checks(*losses(d, model, forget), *losses(d, model, d.holdout), cfg.bounds())
    else:  # every row was already deleted by an earlier version: nothing to prove anew
        report = {"metrics": {}, "checks": {"no_new_rows": True},
                  "thresholds": config_dict(cfg.bounds())}
    report.update({"guarantee": "approximate", "method": cfg.method, "seed": seed,
                   "config": config_dict(cfg.method_cfg()), "method_info": info,
                   "reference": "holdout rows (never trained on)",
                   "passed": all(report["checks"].values())})
    if not report["passed"]:
        return Path(), "", report
    path, digest = save(root, model)
    return path, digest, report


def retrain(cfg: ApproxDeployment, root: Path, deleted: set[int],
            set_state: Callable[[str], None]) -> tuple[Path, str, dict[str, Any]]:
    """A full retrain on the retained rows (the budget's reset): exact by construction."""
    d = scenario_data(cfg)
    trained = d.train_split()
    retain = rows(trained, deleted, keep=False)
    model = train_full(d, retain, cfg.seed)
    point("unlearning.done")
    set_state("verifying")
    point("verifying.committed")
    held = {int(i) for i in retain.ids}
    report: dict[str, Any] = {
        "guarantee": "exact", "method": "retrain", "seed": cfg.seed,
        "checks": {"deleted_rows_absent_from_training_rows": not (held & deleted)},
        "trained_rows": len(retain), "deleted_rows": len(deleted)}
    if deleted:
        gone = rows(trained, deleted, keep=True)
        report.update(checks(*losses(d, model, gone), *losses(d, model, d.holdout),
                             cfg.bounds()) | {"checks": report["checks"]})
    report["passed"] = all(report["checks"].values())
    path, digest = save(root, model)
    return path, digest, report
