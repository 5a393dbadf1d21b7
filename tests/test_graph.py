"""The graph kind: data, forget requests, the views a request gives, the task's quantities
against a dense GCN written out here, the metrics against scipy / scikit-learn and hand
numbers, D2DGN's loss by hand, the verdict rule, and every graph method on the karate club.
(End-to-end runs through the CLI, user data and bad input: test_graph_cli.py.)"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.distance import correlation, cosine
from sklearn.metrics import roc_auc_score

from obliviate.config import build_config
from obliviate.errors import ForgetSetError
from obliviate.methods import METHODS
from obliviate.methods.d2dgn import D2DGNConfig, d2dgn_loss
from obliviate.metrics.graph import (
    absent_pairs,
    auc,
    correlation_distance,
    cosine_distance,
    graph_gap,
    link_stealing_auc,
)
from obliviate.presets import preset_for
from obliviate.runner import RunSpec as Spec
from obliviate.runner import Trained, Workspace, prepare
from obliviate.scenarios import SCENARIOS
from obliviate.tasks.graph.data import Graph, canonical_edges, stochastic_block_graph
from obliviate.tasks.graph.forget import Request, select_forget
from obliviate.tasks.graph.graphs import QUERY, RETAINED, TRAINING, tensors, views
from obliviate.tasks.graph.models import build_gcn
from obliviate.tasks.graph.task import GraphTask, node_rows
from obliviate.types import Batch
from obliviate.views.graph_view import graph_verdict

SRC = Path(__file__).parent.parent / "src" / "obliviate"


def path_graph(n: int = 6) -> Graph:
    """0-1-2-...-(n-1), classes alternate in pairs, features = [node id, 1]."""
    edges = canonical_edges(np.arange(n - 1), np.arange(1, n))
    y = (np.arange(n) // 2 % 2).astype(np.int64)
    x = np.stack([np.arange(n), np.ones(n)], axis=1).astype(np.float32)
    return Graph("path", tuple(f"n{i}" for i in range(n)), x, y, ("a", "b"), edges,
                 tuple("t" if i % 2 else "u" for i in range(n - 1)))


# ---- data and forget requests -----------------------------------------------------------

def test_sbm_is_seeded_with_unique_undirected_edges_and_class_features() -> None:
    kw = dict(per_class=50, n_classes=3, dim=16, p_in=0.1, p_out=0.01, separation=3.0)
    g, again = stochastic_block_graph("s", seed=1, **kw), stochastic_block_graph("s", seed=1,
                                                                                 **kw)
    assert g.fingerprint() == again.fingerprint()
    assert g.fingerprint() != stochastic_block_graph("s", seed=2, **kw).fingerprint()
    assert (g.edges[:, 0] < g.edges[:, 1]).all() and len(np.unique(g.edges, axis=0)) == len(
        g.edges)
    same = g.y[g.edges[:, 0]] == g.y[g.edges[:, 1]]
    # E[intra] = 3 * C(50, 2) * 0.1 = 367.5, E[inter] = 3 * 50 * 50 * 0.01 = 75
    assert 300 < same.sum() < 440 and 40 < (~same).sum() < 115
    means = np.stack([g.x[g.y == c].mean(0) for c in range(3)])
    assert np.linalg.norm(means[0] - means[1]) > 2.0  # separation 3 between unit vectors
    assert g.edge_types[0] == f"{min(g.y[g.edges[0]])}-{max(g.y[g.edges[0]])}"


def test_karate_club() -> None:
    g = SCENARIOS["karate"].load()
    assert (g.n_nodes, len(g.edges), len(g.classes)) == (34, 78, 4)
    assert np.array_equal(g.x, np.eye(34))


def test_selectors_pick_what_they_name() -> None:
    g = path_graph(8)
    train = np.array([0, 1, 2, 3, 4, 5])
    assert select_forget("node:n1,n3", g, train, 0).nodes.tolist() == [1, 3]
    r = select_forget("class:b", g, train, 0)  # nodes 2, 3 and 6, 7: only 2, 3 train
    assert (r.kind, r.nodes.tolist()) == ("nodes", [2, 3])
    r = select_forget("nodes:0.5", g, train, 0)
    assert len(r.nodes) == 3 and set(r.nodes) <= set(train)
    assert select_forget("features:0.5", g, train, 0).kind == "features"
    r = select_forget("edge:n3~n2,n6~n7", g, train, 0)
    assert (r.kind, r.edges.tolist()) == ("edges", [2, 6])
    assert select_forget("edge-type:t", g, train, 0).edges.tolist() == [1, 3, 5]
    assert len(select_forget("edges:0.3", g, train, 0).edges) == 2  # round(0.3 * 7)


@pytest.mark.parametrize(("spec", "message"), [
    ("node:n1,zz", "node 'zz' is not in the graph"),
    ("node:n7", "are test nodes"),
    ("edge:n0~n5", "'n0~n5' is not in the graph"),
    ("edge:n0", "name an edge as A~B"),
    ("class:c", "unknown class 'c'"),
    ("edge:n6~n7", "join test nodes only"),
    ("nodes:1.5", "must be in (0, 1)"),
    ("node:n0,n1,n2,n3,n4,n5", "every training node"),
    ("edge-type:v", "no edge has type 'v'"),
    ("subgraph:1", "bad graph forget set"),
])
def test_bad_requests_name_the_problem(spec: str, message: str) -> None:
    with pytest.raises(ForgetSetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        select_forget(spec, path_graph(8), np.array([0, 1, 2, 3, 4, 5]), 0)


def test_views_apply_each_kind_of_request() -> None:
    g = path_graph(5)  # edges 0-1, 1-2, 2-3, 3-4
    none = np.zeros(0, np.int64)

    def edge_set(t: torch.Tensor) -> set[tuple[int, int]]:
        return {(int(u), int(v)) for u, v in t.T if u < v}

    train, kept, query = views(g, Request("nodes", np.array([1]), none))
    assert edge_set(train.edge_index) == {(0, 1), (1, 2), (2, 3), (3, 4)}
    assert edge_set(kept.edge_index) == edge_set(query.edge_index) == {(2, 3), (3, 4)}
    assert kept.x[1].abs().sum() == 0 and torch.equal(query.x, train.x)
    _, kept, query = views(g, Request("edges", none, np.array([2])))
    assert edge_set(kept.edge_index) == {(0, 1), (1, 2), (3, 4)} and torch.equal(kept.x,
                                                                                 train.x)
    _, kept, _ = views(g, Request("features", np.array([3]), none))
    assert edge_set(kept.edge_index) == edge_set(train.edge_index)
    assert kept.x[3].abs().sum() == 0 and kept.x[2].abs().sum() > 0
    assert train.edge_index.shape == (2, 8)  # each undirected edge in both directions


# ---- the task ---------------------------------------------------------------------------

def dense_gcn(model: torch.nn.Module, x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Kipf & Welling's propagation written out: D^-1/2 (A + I) D^-1/2 X W + b, twice."""
    n = len(x)
    a = np.eye(n)
    for u, v in edges:
        a[u, v] = a[v, u] = 1.0
    d = a.sum(1) ** -0.5
    norm = d[:, None] * a * d[None, :]
    w1, b1 = (model.conv1.lin.weight.detach().double().numpy(),
              model.conv1.bias.detach().double().numpy())
    w2, b2 = (model.conv2.lin.weight.detach().double().numpy(),
              model.conv2.bias.detach().double().numpy())
    h = np.maximum(norm @ x @ w1.T + b1, 0.0)
    return norm @ h @ w2.T + b2


def test_task_quantities_match_a_dense_gcn_per_view() -> None:
    g = path_graph(6)
    req = Request("edges", np.zeros(0, np.int64), np.array([2]))
    task = GraphTask(views(g, req), 2)
    model = build_gcn(2, 4, 2, seed=0)
    # non-zero biases, so they are checked too; seeded (the global generator's draw made the
    # test flaky: with some biases every ReLU of node 3 is off and the views agree there)
    torch.nn.init.normal_(model.conv1.bias, generator=torch.Generator().manual_seed(2))
    rows = torch.tensor([[0, TRAINING], [3, RETAINED], [2, TRAINING], [3, TRAINING]])
    batch = Batch(rows, torch.tensor([0, 1, 1, 1]))
    full = dense_gcn(model, g.x.astype(np.float64), g.edges)
    kept = dense_gcn(model, g.x.astype(np.float64), np.delete(g.edges, 2, axis=0))
    want = np.stack([full[0], kept[3], full[2], full[3]])
    assert np.allclose(task.logits(model, batch).detach().numpy(), want, atol=1e-5)
    logp = want - np.log(np.exp(want).sum(1, keepdims=True))
    nll = -logp[np.arange(4), [0, 1, 1, 1]]
    assert np.allclose(task.per_sample_loss(model, batch).detach().numpy(), nll, atol=1e-5)
    assert np.allclose(task.log_likelihood(model, batch).detach().numpy(), -nll, atol=1e-5)
    assert not np.allclose(full[3], kept[3])  # the views differ where the edge was
    hidden = task.hidden(model, batch, "conv1")
    assert hidden.shape == (4, 4)
    task.per_sample_loss(model, batch).sum().backward()
    assert model.conv1.lin.weight.grad is not None and model.conv1.lin.weight.grad.abs().sum() > 0
    alt = task.alternative_targets(model, batch, torch.Generator().manual_seed(0))
    assert (alt.targets != batch.targets).all()


def test_rows_and_task_hold_no_test_label() -> None:
    data = SCENARIOS["karate"].build("nodes:0.1", 0)
    seen = np.concatenate([data.forget.ids, data.retain.ids])
    assert not set(seen) & set(data.test_nodes.tolist())
    assert set(vars(data.task)) == {"graphs", "n_classes", "name"}  # features and edges only
    assert data.retain.inputs[:, 1].unique().tolist() == [RETAINED]
    assert data.forget.inputs[:, 1].unique().tolist() == [TRAINING]
    split = node_rows("x", np.array([3, 1]), QUERY, data.graph.y)
    assert split.inputs.tolist() == [[3, QUERY], [1, QUERY]]


# ---- metrics ----------------------------------------------------------------------------

def test_distances_match_scipy() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.random((20, 5)), rng.random((20, 5))
    pairs = list(zip(a, b, strict=True))
    assert np.allclose(correlation_distance(a, b), [correlation(u, v) for u, v in pairs])
    assert np.allclose(cosine_distance(a, b), [cosine(u, v) for u, v in pairs])
    flat = np.full((1, 5), 0.2)  # no variance: scipy says NaN, we say uncorrelated
    assert correlation_distance(flat, a[:1])[0] == 1.0


def test_auc_matches_scikit_learn_with_ties() -> None:
    pos, neg = np.array([0.9, 0.5, 0.5, 0.1]), np.array([0.5, 0.2, 0.2])
    want = roc_auc_score([1] * 4 + [0] * 3, np.concatenate([pos, neg]))
    assert auc(pos, neg) == pytest.approx(100 * want)


def test_link_stealing_by_hand() -> None:
    """corr([1,0,0], [.9,.1,0]) = 0.99, corr([1,0,0], [0,0,1]) = -0.5: node 1 is "linked"."""
    p = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 0, 1], [0, 1, 0]], dtype=float)
    assert link_stealing_auc(p, np.array([[0, 1]]), np.array([[0, 2], [2, 3]])) == 100.0
    assert link_stealing_auc(p, np.array([[0, 2]]), np.array([[0, 1]])) == 0.0
    assert link_stealing_auc(p, np.array([[0, 2]]), np.array([[2, 3]])) == 50.0  # both -0.5
    assert link_stealing_auc(p, np.zeros((0, 2)), np.array([[0, 1]])) is None


def test_absent_pairs_are_distinct_non_edges() -> None:
    edges = canonical_edges(np.array([0, 1, 2]), np.array([1, 2, 3]))
    got = absent_pairs(5, edges, 6, seed=0)
    assert len(got) == 6 and len({tuple(p) for p in got}) == 6
    assert all(u < v and (u, v) not in {(0, 1), (1, 2), (2, 3)} for u, v in got)
    assert len(absent_pairs(5, edges, 50, seed=0)) == 10 - 3  # every unlinked pair, no more


def test_graph_gap_by_hand() -> None:
    oracle = {"Forget acc": 84.0, "Retain acc": 97.0, "Test acc": 81.0, "Link AUC": 62.0}
    model = {"Forget acc": 90.0, "Retain acc": 95.0, "Test acc": 80.0, "Link AUC": 60.0}
    assert graph_gap(model, oracle) == pytest.approx((6 + 2 + 1 + 2) / 4)
    assert graph_gap({**model, "Link AUC": None}, {**oracle, "Link AUC": None}) == 3.0
    with pytest.raises(ValueError, match="Link AUC"):
        graph_gap({**model, "Link AUC": None}, oracle)


def test_d2dgn_loss_by_hand() -> None:
    """Preserver p = softmax([ln 3, 0]) = [.75, .25] vs student [.5, .5]:
    KL = .75 ln 1.5 + .25 ln .5 = 0.130812; MSE([1, 2], [0, 0]) = 2.5; destroyer side:
    KL 0, MSE([1, 1], [1, 3]) = 2. alpha .5, w 1: .5 (0.130812 + 2.5) + .5 * 2 = 2.315406;
    alpha .25, w .5: .25 (0.130812 + 1.25) + .75 * 1 = 1.095203."""
    s = (torch.zeros(1, 2), torch.tensor([[1.0, 2.0]]))
    p = (torch.tensor([[math.log(3.0), 0.0]]), torch.zeros(1, 2))
    sf, d = (torch.zeros(1, 2), torch.tensor([[1.0, 1.0]])), (torch.zeros(1, 2),
                                                               torch.tensor([[1.0, 3.0]]))
    assert float(d2dgn_loss(s, p, d, sf, D2DGNConfig())) == pytest.approx(2.315406, abs=1e-6)
    cfg = D2DGNConfig(alpha=0.25, feature_weight=0.5)
    assert float(d2dgn_loss(s, p, d, sf, cfg)) == pytest.approx(1.095203, abs=1e-6)
    with pytest.raises(ValueError, match="student_init"):
        D2DGNConfig(student_init="zeros")


def _record(forget: float, retain: float) -> dict[str, object]:
    roles = ("unlearned", "oracle", "independent")

    def m(*v: float) -> dict[str, float]:
        return dict(zip(roles, v, strict=True))

    return {"scenario": {"kind": "graph", "sizes": {"forget": 50}},
            "metrics": {"Forget acc": m(forget, 84, 86), "Link AUC": m(60, 62, 61.5),
                        "Retain acc": m(retain, 97, 96.5), "Test acc": m(81, 81, 81)}}


def test_verdict_rule_by_hand() -> None:
    """Slack max(mean(|86-84|, |61.5-62|) = 1.25, 100/50 = 2) = 2. Forget 90: signed mean(6,
    -2) = 2, reached; 92: 3, not reached; 76: -5, over-shot. Retain 95 is 2 points below the
    oracle, over max(0.5, 1): utility lost."""
    assert graph_verdict(_record(90, 97)).forgetting == "reached"
    assert graph_verdict(_record(90, 97)).utility == "held"
    assert graph_verdict(_record(92, 97)).forgetting == "not reached"
    assert graph_verdict(_record(76, 97)).forgetting == "over-shot"
    assert graph_verdict(_record(90, 95)).utility == "lost"


# ---- methods on the karate club ---------------------------------------------------------

GRAPH_METHODS = sorted(n for n, s in METHODS.items() if "graph" in s.tasks)


@pytest.fixture(scope="module")
def karate(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    return prepare(Spec("ft", "nodes:0.2", "karate", 0), Workspace(
        tmp_path_factory.mktemp("karate")), progress=False)


def _unlearn(name: str, t: Trained) -> torch.nn.Module:
    spec = METHODS[name]
    cfg = build_config(spec.config, preset_for("karate", name))
    return spec.unlearn(copy.deepcopy(t.original), t.data.unlearn_data(), cfg,
                        task=t.data.task, seed=0).model


@pytest.mark.parametrize("name", GRAPH_METHODS)
def test_every_graph_method_runs_deterministically_and_moves_the_model(
        name: str, karate: Trained) -> None:
    a, b = _unlearn(name, karate), _unlearn(name, karate)
    for (k, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), f"{name}: {k} differs between two runs with seed 0"
    moved = any(not torch.equal(p, q) for p, q in zip(
        a.state_dict().values(), karate.original.state_dict().values(), strict=True))
    assert moved or name == "ssd", f"{name} left every weight unchanged"  # SSD may select none


def test_retrain_is_the_oracle_exactly(karate: Trained) -> None:
    model = _unlearn("retrain", karate)
    for (k, p), q in zip(model.state_dict().items(), karate.oracle.state_dict().values(),
                         strict=True):
        assert torch.equal(p, q), k


def test_the_graph_package_has_every_piece() -> None:
    assert {"__init__.py", "task.py", "scenario.py", "training.py", "evaluation.py",
            "probe.py"} <= {p.name for p in (SRC / "tasks" / "graph").glob("*.py")}


def test_tensors_of_an_edgeless_graph() -> None:
    t = tensors(np.zeros((3, 2)), np.zeros((0, 2), dtype=np.int64))
    assert t.edge_index.shape == (2, 0) and t.edge_index.dtype == torch.int64
