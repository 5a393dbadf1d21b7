"""Recommendation sections: the membership scores of forgotten vs held-out interactions."""

from __future__ import annotations

from collections.abc import Sequence

from obliviate.storage import sidecar as sc
from obliviate.views.report import page
from obliviate.views.report.load import Run
from obliviate.views.report.mia import MiaView, mia_block

_MIA = MiaView(
    kind="recommendation", key=sc.confidence_key, nonmembers="test",
    score="confidence (softmax p of the item)", scores_title="item confidences",
    per_role="softmax probability of the interaction's item over all items, forgotten vs "
             "held-out test interactions.",
    roc_note="Calling an interaction a member when the model is confident in it: forgotten "
             "(members) vs held-out test interactions (never trained on).",
    bins=20, x_range=None)


def mia_blocks(runs: Sequence[Run]) -> list[str]:
    """Per recommendation run: item confidences of forgotten vs test interactions, and ROC."""
    return [mia_block(r, _MIA) if r.has_sidecar else page.note(
        f"run {r.run_id}: no score distributions: {r.sidecar_problem}")
        for r in runs if r.kind == "recommendation"]
