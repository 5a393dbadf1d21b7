"""Guaranteed methods as ordinary runs: ``obliviate run --train sisa:shards=5,slices=4
--method sisa`` (issue 13).

Exactness is designed in at training time, so the *original* model of such a run is the
guaranteed learner trained on every training row (``--train NAME:KEY=VALUE,...``), and the
method (``sisa``, ``s3t``, ``acu``, ``certified``) honours the forget set as deletion requests
on it. Everything else is an ordinary run: the oracle and the noise floor are the scenario's
own retrains without the forget set, the metrics, record (``obliviate.run/2``), store, report
and dashboard are the same, and the record adds a ``guarantee`` field: the guarantee, the
evidence of each request, and a check against the same method trained from scratch on the
retained rows.

Two adapters keep the runner unaware of any of this (DESIGN.md, "Two protocols"):

* ``Guaranteed``, an ``nn.Module`` whose forward is the learner's scores and whose state dict
  is the learner's whole state (so the model cache stores and restores it, and a deep copy,
  as the runner makes, is independent: SISA's checkpoints live inside it). It has no
  parameters and its learner's modules are not submodules: the evaluation's layer probes see
  none, and its ``body`` (the features module every classifier names) is the identity on the
  scores, the only features an ensemble has.
* ``GuaranteedExperiment``, the scenario's experiment with the original's key, model and
  training replaced, and ``guarantee`` added to the evaluation's record fields.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from obliviate.config import build_config, config_dict, parse_assignments
from obliviate.errors import ObliviateError
from obliviate.experiment import Evaluation, role_seed
from obliviate.guaranteed import dp2u
from obliviate.guaranteed.guarantee import CERTIFIED, Deletion
from obliviate.guaranteed.learners import LEARNERS, Learner
from obliviate.types import Split, Task, UnlearnData, UnlearnResult

FORMAT = 1
META = "guaranteed.meta"  # the state dict's JSON entry (a uint8 tensor)
# What --train can name: the learners (a Guaranteed model) and DP2Unlearning (an ordinary
# model of the scenario's architecture, trained with DP-SGD).
TRAINERS: dict[str, type[Any]] = {**{n: s.config for n, s in LEARNERS.items()},
                                  "dp2u": dp2u.DP2UConfig}


def parse_train(text: str) -> tuple[str, dict[str, object]]:
    """``sisa:shards=3,slices=2`` -> ("sisa", {"shards": 3, "slices": 2})."""
    name, _, rest = text.partition(":")
    if name not in TRAINERS:
        raise ObliviateError(f"--train {text!r}: trains one of {', '.join(TRAINERS)} "
                             "(e.g. sisa:shards=5,slices=4)")
    items = [x for x in rest.split(",") if x]
    bad = [x for x in items if "=" not in x]
    if bad:
        raise ObliviateError(f"--train {text!r}: {bad[0]!r} is not KEY=VALUE")
    return name, dict(parse_assignments(items))


class Guaranteed(nn.Module):
    """A guaranteed learner as a model (module docstring)."""

    def __init__(self, learner: Learner) -> None:
        super().__init__()
        self.body = nn.Identity()
        self.learner = learner
        self.deletions: list[Deletion] = []  # every request honoured, in order
        self.latest = 0  # how many of them the last unlearn call made
        self.verify = False  # check against training from scratch (DeleteConfig.verify)
        self.register_state_dict_post_hook(_export)
        self.register_load_state_dict_pre_hook(_restore)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(self.learner.scores(x))
        return out

    def fit(self, split: Split, *, progress: bool = False) -> dict[str, Any]:
        return self.learner.fit(split, progress=progress)

    def delete(self, rows: Split) -> Deletion:
        try:
            d = self.learner.delete(rows)
        except ValueError as e:  # the learners' own checks: rows not held, every row, ...
            raise ObliviateError(str(e)) from None
        self.deletions.append(d)
        return d

    def __deepcopy__(self, memo: dict[int, Any]) -> Guaranteed:
        memo[id(self.learner.data)] = self.learner.data  # the scenario's data is shared
        new = Guaranteed.__new__(Guaranteed)
        memo[id(self)] = new
        new.__dict__.update({k: copy.deepcopy(v, memo) for k, v in self.__dict__.items()})
        return new


def _export(module: nn.Module, state: dict[str, Any], prefix: str, _meta: Any) -> None:
    assert isinstance(module, Guaranteed)
    learner = module.learner
    if learner.model is None:  # not trained yet: nothing to store
        return
    tensors, meta = learner.state()
    for k, v in tensors.items():
        state[f"{prefix}{k}"] = v.detach().cpu().clone().contiguous()
    text = json.dumps({"format": FORMAT, **meta}, sort_keys=True).encode()
    state[f"{prefix}{META}"] = torch.frombuffer(bytearray(text), dtype=torch.uint8).clone()


def _restore(module: nn.Module, state: dict[str, Any], prefix: str, *_rest: Any) -> None:
    """Take this module's entries out of ``state`` (so none is "unexpected") and rebuild
    the learner from them over the scenario's training rows."""
    assert isinstance(module, Guaranteed)
    mine = {k[len(prefix):]: state.pop(k) for k in list(state) if k.startswith(prefix)}
    if META not in mine:
        return
    meta = json.loads(bytes(mine.pop(META).tolist()).decode())
    if meta.pop("format") != FORMAT:
        raise ValueError(f"guaranteed model state of another format (this code reads {FORMAT})")
    learner = module.learner
    learner.restore(learner.data.train_split(), mine, meta)


@dataclass
class GuaranteedExperiment:
    """``inner`` (a classification scenario's built data) whose original is the learner
    ``name`` with config ``cfg`` (module docstring)."""

    inner: Any
    name: str
    cfg: Any

    def __getattr__(self, attr: str) -> Any:  # the rest of the protocol is the scenario's
        if attr == "inner":  # not yet set (copy, pickle): no recursion
            raise AttributeError(attr)
        return getattr(self.inner, attr)

    def _learner(self) -> Learner:
        return Learner(self.name, self.cfg, self.inner, self.inner.seed)

    def model_key(self, role: str) -> str:
        key: str = self.inner.model_key(role)
        if role != "original":
            return key
        spec = {"format": FORMAT, "scenario_key": key, "method": self.name,
                "config": config_dict(self.cfg)}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]

    def new_model(self, role: str) -> nn.Module:
        if role != "original" or self.name == "dp2u":
            model: nn.Module = self.inner.new_model(role)
            return model
        return Guaranteed(self._learner())

    def train(self, model: nn.Module, role: str, *, progress: bool) -> dict[str, Any]:
        if role != "original":
            stats: dict[str, Any] = self.inner.train(model, role, progress=progress)
            return stats
        try:
            if self.name == "dp2u":
                seed = role_seed(self.inner.seed, "original")
                return {"guaranteed": {"method": self.name, "privacy": dp2u.dp_train(
                    model, self.inner.train_split(), self.cfg, seed=seed)}}
            assert isinstance(model, Guaranteed)
            fitted = model.fit(self.inner.train_split(), progress=progress)
        except ValueError as e:  # the learners' checks of sizes against the data
            raise ObliviateError(str(e)) from None
        return {"guaranteed": {"method": self.name, "fit": fitted}}

    def evaluate(self, models: dict[str, nn.Module], *, progress: bool) -> Evaluation:
        ev: Evaluation = self.inner.evaluate(models, progress=progress)
        if self.name == "dp2u" and "unlearned" in models:
            return Evaluation(ev.metrics, {**ev.fields, "guarantee": self._privacy()},
                              ev.arrays)
        unlearned = models.get("unlearned")
        if not isinstance(unlearned, Guaranteed):
            return ev
        spec = LEARNERS[self.name]
        done = unlearned.deletions[len(unlearned.deletions) - unlearned.latest:]
        field: dict[str, Any] = {
            "guarantee": spec.guarantee, "method": self.name, "paper": spec.paper,
            "trained_with": {"method": self.name, "config": config_dict(self.cfg)},
            "requests": [d.as_dict() for d in done],
            "requests_before": len(unlearned.deletions) - len(done)}
        if unlearned.verify:
            scratch = self._learner()
            scratch.fit(self.inner.retain)
            field["verification"] = unlearned.learner.compare(scratch, self.inner.test.inputs)
        return Evaluation(ev.metrics, {**ev.fields, "guarantee": field}, ev.arrays)

    def _privacy(self) -> dict[str, Any]:
        """DP2Unlearning's guarantee: the accounting of its DP-SGD training (recomputed:
        the original may come from the cache), per row and for the forget set as a group."""
        acct = dp2u.accounting(self.cfg, len(self.inner.train_split()))
        return {"guarantee": CERTIFIED, "method": self.name, "paper": dp2u.PAPER,
                "trained_with": {"method": self.name, "config": config_dict(self.cfg)},
                "privacy": acct, "per": "row",
                "group": dp2u.group_bound(acct["epsilon"], acct["delta"],
                                          len(self.inner.forget)),
                "requests": []}

    def with_forget(self, units: Sequence[Any], label: str) -> GuaranteedExperiment:
        return dataclasses.replace(self, inner=self.inner.with_forget(units, label))

    def with_seed(self, seed: int) -> GuaranteedExperiment:
        return dataclasses.replace(self, inner=self.inner.with_seed(seed))

    def record_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = self.inner.record_fields()
        return {**fields, "trained_with": {"method": self.name,
                                           "config": config_dict(self.cfg)}}


def needs_training(method: str) -> bool:
    """Whether ``method`` deletes from a model trained for it (and so needs ``--train``)."""
    return method in TRAINERS


def trained_with(exp: Any, train: str | None, method: str, *,
                 attacks: Sequence[str] = ()) -> GuaranteedExperiment:
    """``exp`` whose original is trained as ``train`` says; refused unless ``method`` is the
    one that honours deletions on it and the scenario is a classifier's, and (for the
    learners, which have no weights to fine-tune or quantize) unless no attack is asked."""
    if train is None:
        raise ObliviateError(f"method {method!r} deletes rows from a model trained for it: "
                             f"add --train {method}[:KEY=VALUE,...] (e.g. --train "
                             "sisa:shards=5,slices=4)")
    name, overrides = parse_train(train)
    if method != name:
        raise ObliviateError(f"--train {train!r} is honoured by --method {name} (a model "
                             f"trained for guaranteed deletion is not one {method!r} edits)")
    if exp.kind != "classification":
        raise ObliviateError(f"--train {name} is for classification scenarios; "
                             f"{exp.scenario!r} is {exp.kind!r}")
    if attacks and name in LEARNERS:
        raise ObliviateError(f"--attack {','.join(attacks)}: attacks are not run on a {name} "
                             "model (it has no weights to fine-tune or quantize; its record's "
                             "guarantee is the evidence); dp2u models take them")
    try:
        cfg = build_config(TRAINERS[name], overrides)
    except ValueError as e:
        raise ObliviateError(str(e)) from None
    return GuaranteedExperiment(exp, name, cfg)


# -- the method: honour the forget set as deletion requests on a Guaranteed model --
@dataclass(frozen=True)
class DeleteConfig:
    # The forget set honoured as this many sequential requests (a seeded random split), as a
    # deployment receives them; 1: one request for the whole set.
    requests: int = 1
    # Also train the method from scratch on the retained rows, at evaluation (untimed), and
    # compare: the record's evidence that the deletion is exact (bit for bit for sisa, s3t).
    verify: bool = True

    def __post_init__(self) -> None:
        if not self.requests >= 1:
            raise ValueError(f"requests={self.requests} (want >= 1)")


def unlearn(model: nn.Module, data: UnlearnData, cfg: DeleteConfig, *, task: Task,
            seed: int) -> UnlearnResult:
    """Delete ``data.forget`` from a model trained with ``--train`` (never reads the retain
    set: the learner holds what a deletion needs)."""
    if not isinstance(model, Guaranteed):
        raise ObliviateError("this method deletes rows from a model trained for it: add "
                             "--train NAME[:KEY=VALUE,...] (e.g. --train sisa:shards=5)")
    forget = data.forget
    if len(forget) == 0:
        raise ObliviateError("the forget set is empty: nothing to delete")
    if not 1 <= cfg.requests <= len(forget):
        raise ObliviateError(f"requests={cfg.requests}: need 1 .. {len(forget)} (one row at "
                             "least per request)")
    order = np.random.default_rng(seed).permutation(len(forget))
    for part in np.array_split(order, cfg.requests):
        model.delete(forget.subset(np.sort(part)))
    model.latest, model.verify = cfg.requests, cfg.verify
    done = model.deletions[-cfg.requests:]
    return UnlearnResult(model, {"requests": float(cfg.requests),
                                 "rows_removed": float(sum(d.removed for d in done))})
