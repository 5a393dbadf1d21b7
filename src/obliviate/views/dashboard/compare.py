"""The comparison payload for a pair of models, from records and feature sidecars only.

Model A is a run's unlearned model; model B is another run's unlearned model, or A's oracle or
original (``b="@oracle"``, ``b="@original"``). Class-level views need runs on the same data and
sample-by-sample views runs on the same samples (``pairs``); each view that cannot be drawn
says why.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from obliviate.storage import sidecar as sc
from obliviate.views.dashboard.data import DashboardError, RunSource
from obliviate.views.dashboard.lm_views import LM_VIEWS, lm_views
from obliviate.views.dashboard.pairs import different_data, different_samples
from obliviate.views.dashboard.regression_views import changed as regression_changed
from obliviate.views.dashboard.shared import Model, aligned, layer_cka, number
from obliviate.views.verdict import verdict

ROLE_CHOICES = {"@oracle": "oracle", "@original": "original"}
MIA_SCORES = {"lm": "Min-K% (k = 40%)",
              "regression": "the true target's Gaussian likelihood exp(-z²/2), z the error in "
                            "target standard deviations (falls as the loss rises)"}
MAX_CHANGED_ROWS = 200
CLASSIFIER_VIEWS = ("confusion", "projection", "changed")
DATA_VIEWS = ("classes", *CLASSIFIER_VIEWS, "layers", "mia", *LM_VIEWS)  # need one data set


def resolve(source: RunSource, a: str | None, b: str | None) -> tuple[Model, Model]:
    if not a:
        raise DashboardError("pick model A: /api/compare?a=RUN_ID&b=RUN_ID (or b=@oracle or "
                             "b=@original for run A's own oracle or original)")
    run_a = source.get(a)
    b = b or "@oracle"
    if b.startswith("@"):
        if b not in ROLE_CHOICES:
            raise DashboardError(f"b={b!r} is neither a run id nor one of "
                                 f"{', '.join(ROLE_CHOICES)}")
        return Model(run_a, "unlearned"), Model(run_a, ROLE_CHOICES[b])
    run_b = source.get(b)
    if run_a.kind != run_b.kind:
        raise DashboardError(f"run {run_a.run_id} is a {run_a.kind} run and {run_b.run_id} a "
                             f"{run_b.kind} run; pick two runs of the same kind")
    return Model(run_a, "unlearned"), Model(run_b, "unlearned")


def compare(source: RunSource, a: str | None, b: str | None) -> dict[str, Any]:
    ma, mb = resolve(source, a, b)
    out: dict[str, Any] = {"a": ma.describe(), "b": mb.describe(), "kind": ma.run.kind,
                           "summary": summary(ma, mb), "verdicts": verdicts(ma, mb)}
    other_data = different_data(ma.run.record, mb.run.record)
    if other_data:
        return out | {view: {"unavailable": other_data} for view in DATA_VIEWS}
    out["classes"] = class_accuracy(ma, mb)
    try:
        sa_, sb = source.sidecar(ma.run), source.sidecar(mb.run)
    except DashboardError as e:
        return out | {view: {"unavailable": str(e)} for view in DATA_VIEWS if view != "classes"}
    if ma.run.kind == "lm":
        why = "language-model runs have no classes or penultimate features"
        return (out | {view: {"unavailable": why} for view in CLASSIFIER_VIEWS}
                | {"mia": mia(ma, sa_, mb, sb, ("forget", "holdout"))} | lm_views(ma, sa_, mb, sb))
    kind = ma.run.kind
    why = f"{kind} runs have no forget questions; these views are for language-model runs"
    out |= {view: {"unavailable": why} for view in LM_VIEWS}
    # Sidecars hold the classifier keys in each kind's terms; where the labels are not class
    # ids (regression: true targets, predictions, the target's Gaussian likelihood) there is
    # no confusion matrix, and "changed" compares predicted values instead of classes.
    labels = sa_.get(sc.label_key("test"))
    classes = labels is not None and np.issubdtype(labels.dtype, np.integer)
    out["confusion"] = confusion(ma, sa_, mb, sb) if classes else {
        "unavailable": f"{kind} runs have no classes (their labels are values, not class ids)"}
    out["mia"] = mia(ma, sa_, mb, sb, ("forget", "test"))
    mismatch = different_samples(ma.run.record, mb.run.record)
    if mismatch:
        for view in ("projection", "changed", "layers"):
            out[view] = {"unavailable": mismatch}
    else:
        out["projection"] = projection(ma, sa_, mb, sb)
        out["changed"] = (changed if classes else regression_changed)(ma, sa_, mb, sb)
        out["layers"] = layer_cka(ma, sa_, mb, sb)
    return out


def summary(ma: Model, mb: Model) -> list[dict[str, Any]]:
    """Every headline metric both records hold, for A, B and A's oracle."""
    rows = []
    for name, entry in ma.run.record["metrics"].items():
        other = mb.run.record["metrics"].get(name)
        if not isinstance(other, dict):
            continue
        rows.append({"metric": name, "unit": entry.get("unit", ""),
                     "a": number(entry.get(ma.role)), "b": number(other.get(mb.role)),
                     "oracle": number(entry.get("oracle"))})
    return rows


def verdicts(ma: Model, mb: Model) -> dict[str, str]:
    """Each unlearned model's verdict line (``views.verdict``): a method that left the model
    unchanged, or lost its utility, says so here as in the run output and the report."""
    out = {}
    for side, m in (("a", ma), ("b", mb)):
        if m.role != "unlearned":
            out[side] = f"{m.role}: the reference model itself"
            continue
        try:
            out[side] = verdict(m.run.record).line
        except ValueError as e:
            out[side] = f"verdict: not available ({e})"
    return out


def class_accuracy(ma: Model, mb: Model) -> dict[str, Any]:
    """Per-class test accuracy (%) of both models, as their records hold it."""
    pa = ma.run.record.get("per_class_accuracy", {}).get(ma.role)
    pb = mb.run.record.get("per_class_accuracy", {}).get(mb.role)
    if pa is None or pb is None:
        return {"unavailable": "per-class accuracy is recorded for classifier runs only"}
    names = [str(c) for c in ma.run.record["scenario"].get("classes", range(len(pa)))]
    if len(pa) != len(pb):
        return {"unavailable": f"A has {len(pa)} classes and B {len(pb)}"}
    return {"names": names, "a": [number(v) for v in pa], "b": [number(v) for v in pb]}


def confusion(ma: Model, sa_: dict[str, np.ndarray], mb: Model,
              sb: dict[str, np.ndarray]) -> dict[str, Any]:
    """Per split: each model's confusion matrix (rows true, columns predicted) and B - A."""
    n = len(ma.run.record["scenario"].get("classes", []))
    if not n:  # a record without class names: as many classes as labels and predictions show
        seen = [s[k].max(initial=0) for s, m in ((sa_, ma), (sb, mb)) for p in sc.SPLITS
                for k in (sc.label_key(p), sc.pred_key(m.role, p))]
        n = 1 + int(max(seen))
    out: dict[str, Any] = {"classes": n, "splits": {}}
    for split in sc.SPLITS:
        mats = {}
        for key, s, m in (("a", sa_, ma), ("b", sb, mb)):
            mat = np.zeros((n, n), dtype=np.int64)
            np.add.at(mat, (s[sc.label_key(split)], s[sc.pred_key(m.role, split)]), 1)
            mats[key] = mat
        out["splits"][split] = {"n_a": int(mats["a"].sum()), "n_b": int(mats["b"].sum()),
                                "a": mats["a"].tolist(), "b": mats["b"].tolist(),
                                "diff": (mats["b"] - mats["a"]).tolist()}
    return out


def projection(ma: Model, sa_: dict[str, np.ndarray], mb: Model,
               sb: dict[str, np.ndarray]) -> dict[str, Any]:
    """PCA (SVD of the centred, stacked features of both models) to 2-D: shared axes."""
    blocks = []
    for split in sc.SPLITS:
        _, ia, ib = aligned(ma, sa_, mb, sb, sc.ids_key(split))
        blocks.append(("a", split, sa_[sc.features_key(ma.role, split)][ia]))
        blocks.append(("b", split, sb[sc.features_key(mb.role, split)][ib]))
    dims = {b[2].shape[1] for b in blocks}
    if len(dims) != 1 or dims.pop() < 2:
        return {"unavailable": "the two models' penultimate features differ in width (or have "
                "fewer than 2 dimensions); a shared projection needs the same architecture"}
    x = np.concatenate([b[2] for b in blocks]).astype(np.float64)
    x -= x.mean(axis=0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    total = float(np.sum(s**2))
    if total == 0.0:
        return {"unavailable": "every penultimate feature is constant: nothing to project"}
    comps = vt[:2]
    # An SVD's signs are arbitrary: fix them (largest loading positive) so views are stable.
    comps *= np.sign(comps[np.arange(2), np.abs(comps).argmax(axis=1)])[:, None]
    xy = x @ comps.T
    points: dict[str, dict[str, list[list[float]]]] = {"a": {}, "b": {}}
    start = 0
    for key, split, block in blocks:
        part = xy[start:start + len(block)]
        points[key][split] = np.round(part, 5).tolist()
        start += len(block)
    return {"explained": [float(v) for v in s[:2] ** 2 / total], "points": points}


def changed(ma: Model, sa_: dict[str, np.ndarray], mb: Model,
            sb: dict[str, np.ndarray]) -> dict[str, Any]:
    """Samples whose predicted class differs between A and B, split by split."""
    rows, counts = [], {}
    for split in sc.SPLITS:
        ids, ia, ib = aligned(ma, sa_, mb, sb, sc.ids_key(split))
        pa = sa_[sc.pred_key(ma.role, split)][ia]
        pb = sb[sc.pred_key(mb.role, split)][ib]
        ca = sa_[sc.confidence_key(ma.role, split)][ia]
        cb = sb[sc.confidence_key(mb.role, split)][ib]
        labels = sa_[sc.label_key(split)][ia]
        diff = np.flatnonzero(pa != pb)
        counts[split] = {"changed": int(len(diff)), "compared": int(len(ids))}
        rows += [{"id": int(ids[i]), "split": split, "label": int(labels[i]),
                  "a": int(pa[i]), "b": int(pb[i]), "conf_a": float(ca[i]),
                  "conf_b": float(cb[i])} for i in diff]
    return {"counts": counts, "total": len(rows), "rows": rows[:MAX_CHANGED_ROWS]}


def mia(ma: Model, sa_: dict[str, np.ndarray], mb: Model, sb: dict[str, np.ndarray],
        splits: tuple[str, str]) -> dict[str, Any]:
    """Membership scores of forget (members) and non-members; higher means "member". ``auc``:
    each model's ROC-AUC over every threshold at once.

    Classifiers: the softmax probability of the true label (confidence attack; forget vs
    test). Language models: Min-K% (k = 40%) of the forget vs holdout biographies.
    """
    member, other = splits
    out: dict[str, Any] = {"member": member, "nonmember": other}
    for key, s, m in (("a", sa_, ma), ("b", sb, mb)):
        if m.run.kind == "lm":
            pos, neg = s[sc.mia_key(m.role, member)], s[sc.mia_key(m.role, other)]
        else:
            pos, neg = (s[sc.confidence_key(m.role, member)],
                        s[sc.confidence_key(m.role, other)])
        out[key] = {"member": [float(v) for v in pos], "nonmember": [float(v) for v in neg],
                    "auc": auc(pos, neg)}
    everything = [v for k in ("a", "b") for part in ("member", "nonmember") for v in out[k][part]]
    if not everything:
        return {"unavailable": "no membership scores in the sidecars"}
    out["score"] = MIA_SCORES.get(ma.run.kind, "true-label confidence")
    out["range"] = [min(everything), max(everything)]
    return out




def auc(member: np.ndarray, nonmember: np.ndarray) -> float | None:
    """ROC-AUC of the score: P(member > non-member) + P(tie) / 2 (Mann-Whitney), over every
    pair (sidecars cap each split, so the pairs stay few); None without both sets."""
    pos, neg = np.asarray(member, np.float64), np.asarray(nonmember, np.float64)
    if not (len(pos) and len(neg)) or not (np.isfinite(pos).all() and np.isfinite(neg).all()):
        return None
    d = pos[:, None] - neg[None, :]
    return float((np.count_nonzero(d > 0) + 0.5 * np.count_nonzero(d == 0)) / d.size)
