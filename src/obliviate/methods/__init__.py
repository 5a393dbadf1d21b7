"""The registry of unlearning methods: one file each, a frozen config and ``unlearn``.

Every ``unlearn`` has the signature
``unlearn(model, data: UnlearnData, cfg, *, task, seed) -> UnlearnResult``; it may modify
``model`` in place (the runner hands it a copy) and must be deterministic for a seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from obliviate.errors import ObliviateError
from obliviate.methods import (
    bad_teacher,
    blindspot,
    d2dgn,
    finetune,
    flat,
    gaussian_ft,
    grad_ascent,
    grad_diff,
    idkpo,
    ihl,
    l1_sparse,
    mmrecun,
    neggrad_plus,
    npo,
    random_label,
    retrain,
    rmu,
    salun,
    scrub,
    simnpo,
    ssd,
    tnpo,
)


@dataclass(frozen=True)
class MethodSpec:
    name: str
    config: type[Any]  # a frozen dataclass whose defaults are the paper's
    unlearn: Callable[..., Any]
    tasks: tuple[str, ...]  # the Task names this method supports
    paper: str


# Written against the Task interface only, so they run unchanged on a causal LM, a graph and
# a ranking task (recommendation: BPR rows, tasks/recommendation/task.py).
BOTH = ("classification", "causal_lm", "graph", "recommendation")
LM = ("causal_lm",)
REG = ("regression",)

METHODS: dict[str, MethodSpec] = {
    "ft": MethodSpec("ft", finetune.FinetuneConfig, finetune.unlearn, BOTH,
                     "Warnecke et al. 2023, NDSS (fine-tune on retain)"),
    "ga": MethodSpec("ga", grad_ascent.GradAscentConfig, grad_ascent.unlearn, BOTH,
                     "Thudi et al. 2022, EuroS&P (gradient ascent)"),
    # -- more methods are registered below this line --
    "retrain": MethodSpec("retrain", retrain.RetrainConfig, retrain.unlearn, BOTH,
                          "exact retraining from scratch on the retain set (the oracle)"),
    "rl": MethodSpec("rl", random_label.RandomLabelConfig, random_label.unlearn, BOTH,
                     "Golatkar et al. 2020, CVPR (random labels; as in SalUn, ICLR 2024)"),
    "neggrad+": MethodSpec("neggrad+", neggrad_plus.NegGradPlusConfig, neggrad_plus.unlearn,
                           BOTH, "Kurmanji et al. 2023, NeurIPS (NegGrad+, SCRUB's baseline)"),
    "l1_sparse": MethodSpec("l1_sparse", l1_sparse.L1SparseConfig, l1_sparse.unlearn, BOTH,
                            "Jia et al. 2023, NeurIPS (l1-sparse unlearning)"),
    "bad_teacher": MethodSpec("bad_teacher", bad_teacher.BadTeacherConfig, bad_teacher.unlearn,
                              BOTH, "Chundawat et al. 2023, AAAI (competent and incompetent "
                              "teachers)"),
    "scrub": MethodSpec("scrub", scrub.ScrubConfig, scrub.unlearn, BOTH,
                        "Kurmanji et al. 2023, NeurIPS (SCRUB, selective distillation)"),
    "ssd": MethodSpec("ssd", ssd.SSDConfig, ssd.unlearn, BOTH,
                      "Foster et al. 2024, AAAI (selective synaptic dampening)"),
    "salun": MethodSpec("salun", salun.SalUnConfig, salun.unlearn, BOTH,
                        "Fan et al. 2024, ICLR (SalUn, saliency-masked random labels)"),
    # -- graph unlearning --
    "d2dgn": MethodSpec("d2dgn", d2dgn.D2DGNConfig, d2dgn.unlearn, ("graph",),
                        "Sinha et al. 2023 (Distill to Delete, D2DGN: distillation from a "
                        "preserver and a destroyer)"),
    # -- language-model unlearning (TOFU / MUSE / WMDP family) --
    "grad_diff": MethodSpec("grad_diff", grad_diff.GradDiffConfig, grad_diff.unlearn, LM,
                            "Liu et al. 2022, CoLLAs; TOFU's GradDiff (Maini et al. 2024)"),
    "npo": MethodSpec("npo", npo.NPOConfig, npo.unlearn, LM,
                      "Zhang et al. 2024, COLM (negative preference optimization, NPO+RT)"),
    "tnpo": MethodSpec("tnpo", tnpo.TNPOConfig, tnpo.unlearn, LM,
                       "Wang et al. 2025, ICLR (token-wise NPO; WTNPO with alpha > 0)"),
    "simnpo": MethodSpec("simnpo", simnpo.SimNPOConfig, simnpo.unlearn, LM,
                         "Fan et al. 2024 (SimNPO, reference-free NPO)"),
    "idkpo": MethodSpec("idkpo", idkpo.IdkPOConfig, idkpo.unlearn, LM,
                        "Maini et al. 2024, TOFU (DPO towards \"I don't know\")"),
    "rmu": MethodSpec("rmu", rmu.RMUConfig, rmu.unlearn, LM,
                      "Li et al. 2024, ICML (WMDP's representation misdirection)"),
    "ihl": MethodSpec("ihl", ihl.IHLConfig, ihl.unlearn, LM,
                      "Cha et al. 2025, ICLR (LoKU's inverted hinge loss)"),
    "flat": MethodSpec("flat", flat.FLATConfig, flat.unlearn, LM,
                       "Wang et al. 2025, ICLR (FLAT, f-divergence with forget data only)"),
    # -- regression unlearning (Tarun et al. 2023) --
    "blindspot": MethodSpec("blindspot", blindspot.BlindspotConfig, blindspot.unlearn, REG,
                            "Tarun et al. 2023, ICML (Deep Regression Unlearning: Blindspot)"),
    "gaussian_ft": MethodSpec("gaussian_ft", gaussian_ft.GaussianFTConfig, gaussian_ft.unlearn,
                              REG, "Tarun et al. 2023, ICML (Deep Regression Unlearning: "
                              "Gaussian fine-tuning)"),
    # -- recommendation unlearning --
    "mmrecun": MethodSpec("mmrecun", mmrecun.MMRecUnConfig, mmrecun.unlearn, ("recommendation",),
                          "Sinha et al. 2025, AAAI (MMRecUn, reverse + forward BPR)"),
}

# Regression runs the generic methods whose objective is a sum of per-sample losses (or, for
# SSD, squared gradients of them) and random targets: fine-tuning on D_r (ft, l1_sparse),
# ascent on D_f (ga, neggrad+: like cross-entropy, the squared error is unbounded above, so
# they need their presets' step sizes), exact retraining, relabelling (rl, salun) with targets
# drawn from the training targets' Gaussian (RegressionTask.alternative_targets), and SSD's
# Fisher diagonal. Not bad_teacher or scrub: they distil a softmax over the outputs, and a
# softmax over one output is constant (zero divergence, zero gradient); Blindspot is the
# regression form of bad teaching. SSD's class-sorted full_order values need class labels.
for _name in ("ft", "ga", "retrain", "rl", "neggrad+", "l1_sparse", "ssd", "salun"):
    METHODS[_name] = replace(METHODS[_name], tasks=(*METHODS[_name].tasks, *REG))


def guaranteed_methods() -> dict[str, MethodSpec]:
    """Methods that delete rows from a model trained for them (``obliviate run --train``,
    ``guaranteed/adapter.py``); apart from METHODS, whose contract is to edit any model."""
    from obliviate.guaranteed import dp2u
    from obliviate.guaranteed.adapter import DeleteConfig, unlearn
    from obliviate.guaranteed.learners import LEARNERS

    out = {n: MethodSpec(n, DeleteConfig, unlearn, ("classification",),
                         f"{s.paper}; {s.guarantee} deletion from a model trained with "
                         f"--train {n}") for n, s in LEARNERS.items()}
    out["dp2u"] = MethodSpec("dp2u", finetune.FinetuneConfig, dp2u.unlearn, ("classification",),
                             f"{dp2u.PAPER}; (epsilon, delta)-certified per row, for a model "
                             "trained with --train dp2u")
    return out


def get_method(name: str, task: str | None = None) -> MethodSpec:
    """The method called ``name``; with ``task``, refuse methods that do not support it."""
    guaranteed = guaranteed_methods() if name not in METHODS else {}
    if name not in METHODS and name not in guaranteed:
        raise ObliviateError(f"unknown method {name!r}; valid methods: "
                             f"{', '.join([*METHODS, *guaranteed_methods()])}")
    spec = METHODS[name] if name in METHODS else guaranteed[name]
    if task is not None and task not in spec.tasks:
        raise ObliviateError(f"method {name!r} does not support the {task!r} task; "
                             f"it supports: {', '.join(spec.tasks)}")
    return spec
