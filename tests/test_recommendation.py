"""The recommendation kind's pieces against numbers worked out by hand or by an independent
implementation: the generator and split, the forget selectors, the interactions CSV, the
ranking task's BPR, the model, the probe's ranks, the metrics (scikit-learn's ``ndcg_score``,
a brute-force top-K) and MMRecUn's loss. The pipeline (CLI, store, report, dashboard,
methods on a trained model) is tests/test_recommendation_pipeline.py."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import ndcg_score
from torch import nn

from obliviate.errors import DataError, ForgetSetError
from obliviate.methods.common import reinitialise
from obliviate.methods.mmrecun import MMRecUnConfig, mmrecun_loss
from obliviate.metrics.recommendation import (
    hit_rate,
    interaction_mia_efficacy,
    ndcg_at_k,
    percentile_rank,
    rec_gap,
    recall_at_k,
)
from obliviate.tasks.recommendation.forget import canonical_forget, covered, select_forget
from obliviate.tasks.recommendation.interactions import Generator, Interactions, split_train_test
from obliviate.tasks.recommendation.interactions_csv import read_interactions_csv
from obliviate.tasks.recommendation.models import ModelSize, build_bprmf
from obliviate.tasks.recommendation.probe import Known, probe_pairs
from obliviate.tasks.recommendation.task import RankingTask, bpr_loss
from obliviate.types import Batch


def sp(x: float) -> float:
    """softplus(x) = -log sigmoid(-x)"""
    return math.log1p(math.exp(x))


class Table(nn.Module):
    """A 'model' whose scores are a fixed table: row u is user u's score of every item."""

    def __init__(self, scores: list[list[float]]) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(scores, dtype=torch.float64))

    def forward(self, users: torch.Tensor) -> torch.Tensor:
        return self.w[users]


def table_data(users: list[str], items: list[str], pairs: list[tuple[int, int]],
               times: list[float] | None = None) -> Interactions:
    u, i = (np.array([p[k] for p in pairs], dtype=np.int64) for k in (0, 1))
    return Interactions("t", u, i, tuple(users), tuple(items),
                        np.zeros((len(items), 0), np.float32),
                        None if times is None else np.array(times, dtype=np.float64),
                        np.arange(len(pairs)), len(pairs))


# ---- the task's BPR -------------------------------------------------------------------------

def test_bpr_loss_by_hand() -> None:
    """Row 1: scores (2, 0, 1), positive item 0: s_ui - s_uj = 2 and 1, so the mean of
    -log sigmoid is (sp(-2) + sp(-1)) / 2 = (0.126928 + 0.313262) / 2 = 0.220095; reversed,
    (sp(2) + sp(1)) / 2 = 1.720095. Row 2: scores (0, 3, 0), item 2: differences 0 and -3:
    (log 2 + sp(3)) / 2 = 1.870867. The item itself (j = i) is never a negative."""
    scores = torch.tensor([[2.0, 0.0, 1.0], [0.0, 3.0, 0.0]], dtype=torch.float64)
    items = torch.tensor([0, 2])
    assert bpr_loss(scores, items).tolist() == pytest.approx([0.2200948, 1.8708673], abs=1e-6)
    assert bpr_loss(scores, items, reverse=True)[0].item() == pytest.approx(1.7200948, abs=1e-6)
    with pytest.raises(ValueError, match="at least 2 items"):
        bpr_loss(scores[:, :1], torch.tensor([0, 0]))


def test_ranking_task_quantities() -> None:
    model = Table([[2.0, 0.0, 1.0], [0.0, 3.0, 0.0]])
    task = RankingTask(3)
    batch = Batch(torch.tensor([0, 1]), torch.tensor([0, 2]))
    loss = task.per_sample_loss(model, batch)
    assert loss.tolist() == pytest.approx([(sp(-2) + sp(-1)) / 2, (sp(0) + sp(3)) / 2])
    assert torch.equal(task.log_likelihood(model, batch), -loss)
    assert torch.equal(task.logits(model, batch), model.w)  # every item's score per row
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        alt = task.alternative_targets(model, batch, gen).targets
        assert ((alt != batch.targets) & (alt >= 0) & (alt < 3)).all()
    with pytest.raises(ValueError, match=">= 2 items"):
        RankingTask(1)


# ---- the model ------------------------------------------------------------------------------

def test_bprmf_scores_by_hand() -> None:
    """p_u = (1, 2); q = (1, 0), (0, 1); features f = 1, 2 with W = (0.5, 0)^T add (0.5, 0)
    and (1, 0); biases 0.1, -0.2: item vectors (1.5, 0), (1, 1), scores 1.5 + 0.1 = 1.6 and
    3 - 0.2 = 2.8."""
    model = build_bprmf(1, 2, np.array([[1.0], [2.0]]), ModelSize(dim=2), seed=0)
    with torch.no_grad():
        model.user.weight.copy_(torch.tensor([[1.0, 2.0]]))
        model.item.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        model.features.weight.copy_(torch.tensor([[0.5], [0.0]]))  # type: ignore[union-attr]
        model.bias.weight.copy_(torch.tensor([[0.1], [-0.2]]))
    assert model(torch.tensor([0])).tolist()[0] == pytest.approx([1.6, 2.8])


def test_retrain_reinitialisation_rebuilds_the_same_weights() -> None:
    """``retrain`` re-initialises every module with reset_parameters under the seed: for BPR-MF
    that must be exactly the model ``build_bprmf`` builds (scaled normal embeddings, zero
    biases), or retraining could never reproduce the oracle."""
    feats = np.random.default_rng(0).normal(size=(7, 3))
    fresh = build_bprmf(5, 7, feats, ModelSize(), seed=11)
    used = build_bprmf(5, 7, feats, ModelSize(), seed=3)
    with torch.no_grad():
        for p in used.parameters():
            p.add_(1.0)
    reinitialise(used, 11)
    for (k, a), b in zip(fresh.state_dict().items(), used.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    assert float(fresh.user.weight.detach().std()) == pytest.approx(0.1, rel=0.5)
    assert not fresh.bias.weight.any()


# ---- data, split, forget sets ---------------------------------------------------------------

def test_generator_is_seeded_and_shaped() -> None:
    g = Generator(n_users=30, n_items=50, min_per_user=5, mean_per_user=9, n_features=4)
    a, b = g.generate(), g.generate()
    assert np.array_equal(a.user, b.user) and np.array_equal(a.item, b.item)
    assert not np.array_equal(a.item, Generator(n_users=30, n_items=50, min_per_user=5,
                                                mean_per_user=9, seed=1).generate().item)
    counts = np.bincount(a.user, minlength=30)
    assert counts.min() >= 5 and counts.max() <= 25 and a.features.shape == (50, 4)
    assert len({(u, i) for u, i in zip(a.user, a.item, strict=True)}) == len(a)  # no repeats


def test_split_holds_out_each_users_latest() -> None:
    """User 0's five interactions at times 5, 1, 4, 2, 3 (ids 0-4): 40% = 2 held out, the
    latest two (ids 0 and 2). User 1 has one interaction: kept for training. User 2 has two:
    round(0.8) = 1 held out, the later (id 7, time 9)."""
    d = table_data(["a", "b", "c"], ["x", "y", "z", "w", "v"],
                   [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (1, 0), (2, 0), (2, 1)],
                   times=[5, 1, 4, 2, 3, 0, 1, 9])
    train, test = split_train_test(d, 0.4)
    assert test.tolist() == [0, 2, 7] and train.tolist() == [1, 3, 4, 5, 6]


def test_forget_selectors() -> None:
    d = table_data(["a", "b", "c"], ["x", "y", "z"],
                   [(0, 0), (0, 1), (1, 1), (1, 2), (2, 0), (2, 2)])
    train = np.array([0, 1, 2, 3, 4])  # id 5 (c, z) is a test row
    assert select_forget("user:a", d, train, 0).ids.tolist() == [0, 1]
    assert select_forget("user:b,c", d, train, 0).ids.tolist() == [2, 3, 4]
    assert select_forget("item:y", d, train, 0).ids.tolist() == [1, 2]
    first = select_forget("random:0.4", d, train, 0)
    assert len(first.ids) == 2 and set(first.ids) <= set(train)
    assert np.array_equal(first.ids, select_forget("random:0.4", d, train, 0).ids)
    assert covered("item", ["y"], d, train).tolist() == [1, 2]
    assert canonical_forget(" user: a , b,a") == "user:a,b"
    assert canonical_forget("random:1e-1") == "random:0.1"
    for spec, needle in (("user:zed", "no user 'zed' in the interactions (3 users: 'a', 'b'"),
                         ("item:q", "no item 'q'"), ("random:1.5", "must be in (0, 1)"),
                         ("random:0.01", "selects 0 of the 5"), ("users:1", "bad forget set"),
                         ("user:a,,b", "an empty user id")):
        with pytest.raises(ForgetSetError, match=needle.replace("(", r"\(").replace(")", r"\)")):
            select_forget(spec, d, train, 0)
    only_test = table_data(["a", "b"], ["x", "y"], [(0, 0), (1, 0), (1, 1)])
    with pytest.raises(ForgetSetError, match="item 'y' has no training interactions"):
        select_forget("item:y", only_test, np.array([0, 1]), 0)


def test_interactions_csv(tmp_path: Path) -> None:
    """Ids are text; a repeated pair keeps its earliest row; other columns are ignored."""
    p = tmp_path / "i.csv"
    p.write_text("user,item,rating,timestamp\nal,b1,5,10\nbo,b1,3,4\nal,b2,1,7\n\nal,b1,2,3\n"
                 + "".join(f"u{k},b{k % 3},1,{k}\n" for k in range(20)))
    d = read_interactions_csv(p)
    assert d.users[:2] == ("al", "bo") and d.items[:2] == ("b1", "b2")
    assert len(d) == 23 and d.timestamp is not None
    assert d.timestamp[0] == 3 and d.row[0] == 3  # (al, b1): its earliest row, data row 3
    assert d.features.shape == (len(d.items), 0)
    for text, needle in (("user,thing\na,b\n", "lacks the column 'item'"),
                         ("user,item\na,\n", "data row 0 has an empty item id"),
                         ("user,item,timestamp\na,b,soon\n", "timestamp 'soon' is not a number"),
                         ("user,item\na,b\nc,d\n", "too few"), ("", "the file is empty")):
        p.write_text(text)
        with pytest.raises(DataError, match=needle):
            read_interactions_csv(p)
    with pytest.raises(DataError, match="does not exist"):
        read_interactions_csv(tmp_path / "missing.csv")


# ---- probe ranks ----------------------------------------------------------------------------

def test_probe_ranks_filter_known_items_and_break_ties_by_index() -> None:
    """User 0 scores items 0-4 as 5, 9, 3, 3, 1 and knows item 1 (filtered): candidates are
    items 0, 2, 3, 4, so item 0 ranks 1st, item 2 2nd (tied with item 3, lower index first),
    item 3 3rd, item 4 4th. Confidence is the softmax over all five items (item 1 included)."""
    model = Table([[5.0, 9.0, 3.0, 3.0, 1.0]])
    known = Known.of(np.array([0]), np.array([1]), 1, 5)
    got = probe_pairs(model, {"q": (np.zeros(4, dtype=np.int64), np.array([0, 2, 3, 4]))},
                      known)["q"]
    assert got.rank.tolist() == [1, 2, 3, 4] and got.candidates.tolist() == [4, 4, 4, 4]
    z = math.log(sum(math.exp(s) for s in (5, 9, 3, 3, 1)))
    assert got.log_confidence.tolist() == pytest.approx([5 - z, 3 - z, 3 - z, 1 - z])


# ---- metrics --------------------------------------------------------------------------------

def test_ranking_metrics_by_hand() -> None:
    """One user with held-out items at ranks 1, 3 and 25: Recall@20 = 2/3; NDCG@20 =
    (1/log2 2 + 1/log2 4) / (1/log2 2 + 1/log2 3 + 1/log2 4) = 1.5 / 2.130930 = 0.703918.
    A second user with one item at rank 2: recall 1, NDCG 1/log2(3) = 0.630930."""
    ranks, owner = np.array([1, 3, 25, 2]), np.array([7, 7, 7, 9])
    assert recall_at_k(ranks, owner, 20).per_sample.tolist() == pytest.approx([2 / 3, 1.0])
    assert recall_at_k(ranks, owner, 20).value == pytest.approx(100 * (2 / 3 + 1) / 2)
    assert ndcg_at_k(ranks, owner, 20).per_sample.tolist() == pytest.approx(
        [0.7039181, 0.6309298], abs=1e-6)
    assert percentile_rank(np.array([1, 11, 6]), np.array([11, 11, 11])).value == 50.0
    assert hit_rate(np.array([1, 20, 21, 40]), 20).value == 50.0
    with pytest.raises(ValueError, match="ranks repeat"):
        ndcg_at_k(np.array([1, 1]), np.array([0, 0]), 10)
    with pytest.raises(ValueError, match=">= 1"):
        recall_at_k(np.array([0]), np.array([0]), 10)


@pytest.mark.parametrize("k", [10, 20])
def test_recall_and_ndcg_match_brute_force_and_sklearn(k: int) -> None:
    """Random tie-free scores for 30 users over 60 items, 1-8 relevant items each, some known
    items filtered: Recall@K against the brute-force top-K list, NDCG@K against scikit-learn's
    ``ndcg_score`` on the candidates (binary relevance)."""
    rng = np.random.default_rng(k)
    ranks, owner, recall_bf, ndcg_sk = [], [], [], []
    for u in range(30):
        scores = rng.permutation(60).astype(float)
        known = rng.choice(60, size=5, replace=False)
        cand = np.setdiff1d(np.arange(60), known)
        rel = rng.choice(cand, size=rng.integers(1, 9), replace=False)
        order = cand[np.argsort(-scores[cand])]  # the list, best first
        ranks += [int(np.nonzero(order == i)[0][0]) + 1 for i in rel]
        owner += [u] * len(rel)
        recall_bf.append(len(set(order[:k]) & set(rel)) / len(rel))
        ndcg_sk.append(ndcg_score(np.isin(cand, rel)[None].astype(float), scores[cand][None],
                                  k=k))
    assert recall_at_k(np.array(ranks), np.array(owner), k).value == pytest.approx(
        100 * np.mean(recall_bf))
    assert ndcg_at_k(np.array(ranks), np.array(owner), k).value == pytest.approx(
        100 * np.mean(ndcg_sk))


def test_interaction_mia_efficacy_by_hand() -> None:
    """Members (retained rows) sit near log p = -1, non-members (held-out rows) near -6, far
    apart: the attack calls the two forget rows near -1 members and the two near -6
    non-members, so MIA-Eff = 2 / 4 = 50%."""
    rng = np.random.default_rng(0)
    retain, test = -1 + 0.1 * rng.normal(size=60), -6 + 0.1 * rng.normal(size=30)
    got = interaction_mia_efficacy(retain, test, np.array([-1.0, -1.2, -6.0, -5.8]), seed=0)
    assert got.value == 50.0 and got.per_sample.tolist() == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="no test interactions"):
        interaction_mia_efficacy(retain, np.zeros(0), np.array([-1.0]), seed=0)


def test_rec_gap_by_hand() -> None:
    """|40 - 44| = 4, |30 - 31| = 1, |5 - 17| = 12, |20 - 60| = 40: mean 14.25."""
    oracle = {"Recall@20": 44.0, "NDCG@20": 31.0, "Forget rank": 17.0,
              "MIA-Eff (interactions)": 60.0}
    mine = {"Recall@20": 40.0, "NDCG@20": 30.0, "Forget rank": 5.0,
            "MIA-Eff (interactions)": 20.0, "Hit@20 (D_f)": 99.0}
    assert rec_gap(mine, oracle) == 14.25 and rec_gap(oracle, oracle) == 0.0
    with pytest.raises(ValueError, match="lack NDCG@20"):
        rec_gap({"Recall@20": 1.0}, oracle)


# ---- MMRecUn --------------------------------------------------------------------------------

def test_mmrecun_loss_by_hand() -> None:
    """Forget row: scores (2, 0, 1), item 0, reverse BPR (sp(2) + sp(1)) / 2 = 1.720095;
    retain row: scores (0, 3, 0), item 2, forward BPR (log 2 + sp(3)) / 2 = 1.870867. With
    weights 0.5 and 2: 0.5 x 1.720095 + 2 x 1.870867 = 4.601782."""
    loss = mmrecun_loss(torch.tensor([[2.0, 0.0, 1.0]]), torch.tensor([0]),
                        torch.tensor([[0.0, 3.0, 0.0]]), torch.tensor([2]), 0.5, 2.0)
    assert loss.item() == pytest.approx(4.601782, abs=1e-5)
    with pytest.raises(ValueError, match="forgets nothing"):
        MMRecUnConfig(forget_weight=0.0)
    with pytest.raises(ValueError, match="lr=0"):
        MMRecUnConfig(lr=0)
