"""Graph sections: the link-stealing attack's scores per run (deleted edges vs never-linked
node pairs), drawn like a membership block."""

from __future__ import annotations

from collections.abc import Sequence

from obliviate.views.report import page
from obliviate.views.report.load import Run
from obliviate.views.report.mia import MiaView, mia_block

_LINKS = MiaView(
    kind="graph", key=lambda role, s: f"{role}/links/{'forgotten' if s == 'forget' else s}",
    nonmembers="absent", score="link score (minus the correlation distance of posteriors)",
    scores_title="link scores",
    per_role="posterior similarity of the deleted edges' endpoints (forget) vs node pairs "
             "never linked (absent).",
    roc_note="Calling a pair linked when its endpoints' posteriors are close: deleted edges vs "
             "never-linked pairs (He et al. 2021, Attack-0). The oracle's AUC is the target.",
    bins=20, x_range=(-2.0, 0.0))


def links_section(runs: Sequence[Run]) -> str:
    body = [page.note("Can an attacker tell from the model's outputs which node pairs were "
                      "linked by the deleted edges? Per graph run and model: the attack's "
                      "scores of the deleted edges and of as many never-linked pairs, on the "
                      "graph after the deletion.")]
    graph_runs = [r for r in runs if r.kind == "graph"]
    for r in graph_runs:
        if not r.has_sidecar:
            body.append(page.note(f"run {r.run_id}: no link scores: {r.sidecar_problem}"))
        elif not len(r.arrays().get("oracle/links/forgotten", ())):
            body.append(page.note(f"run {r.run_id}: the request deleted no edge"))
        else:
            body.append(mia_block(r, _LINKS))
    if not graph_runs:
        body.append(page.note("No graph runs in this report."))
    return page.section("links", "Link stealing: deleted edges vs never-linked pairs",
                        "".join(body))
