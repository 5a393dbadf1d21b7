"""Probes: the only code that runs recommendation models for evaluation (DESIGN.md).

A model scores every item for a user; a probe scores user by user (in chunks, so no users x
items matrix is ever held whole) and returns, per (user, item) pair asked about, what the
metrics need: its rank among the user's candidates, the number of candidates, its score and
its log-confidence (the log-softmax of its score over all items for the user).

Candidates: every item except the user's *known* items, the retained training interactions
(what a deployed recommender filters out of a list). Ties are broken by item index, so ranks
within one list are distinct.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import logsumexp
from torch import nn

USER_CHUNK = 512
PAIR_CHUNK = 4096


@dataclass(frozen=True)
class Known:
    """Each user's known items, compressed by user (``items[start[u]:start[u + 1]]``)."""

    start: np.ndarray
    items: np.ndarray
    n_items: int

    @classmethod
    def of(cls, users: np.ndarray, items: np.ndarray, n_users: int, n_items: int) -> Known:
        order = np.lexsort((items, users))
        start = np.searchsorted(users[order], np.arange(n_users + 1))
        return cls(start.astype(np.int64), items[order].astype(np.int64), n_items)

    def mask(self, users: np.ndarray) -> np.ndarray:
        """(len(users), n_items) bool: True where the item is known to the user."""
        out = np.zeros((len(users), self.n_items), dtype=bool)
        for row, u in enumerate(users):
            out[row, self.items[self.start[u]:self.start[u + 1]]] = True
        return out


@dataclass(frozen=True)
class PairScores:
    """Per pair: ``rank`` (1 = first) among ``candidates``, ``score`` and ``log_confidence``,
    the log-softmax of the score over all items (known ones included)."""

    rank: np.ndarray
    candidates: np.ndarray
    score: np.ndarray
    log_confidence: np.ndarray


@contextmanager
def evaluating(model: nn.Module) -> Iterator[None]:
    """Eval mode and no autograd; restores the model's previous mode afterwards."""
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was)


def _device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def user_scores(model: nn.Module, users: np.ndarray) -> np.ndarray:
    """(len(users), n_items) float64 scores."""
    with evaluating(model):
        out = model(torch.as_tensor(users, dtype=torch.long, device=_device(model)))
    return np.asarray(out.to("cpu", torch.float64).numpy())


def probe_pairs(model: nn.Module, pairs: Mapping[str, tuple[np.ndarray, np.ndarray]],
                known: Known) -> dict[str, PairScores]:
    """What the metrics need about each named set of (users, items) pairs, in input order."""
    out = {name: PairScores(*(np.zeros(len(u), dtype=t) for t in
                              (np.int64, np.int64, np.float64, np.float64)))
           for name, (u, _) in pairs.items()}
    every = np.unique(np.concatenate([u for u, _ in pairs.values()] or [np.zeros(0, int)]))
    for start in range(0, len(every), USER_CHUNK):
        chunk = every[start:start + USER_CHUNK]
        scores = user_scores(model, chunk)
        log_z = logsumexp(scores, axis=1)
        known_mask = known.mask(chunk)
        masked = np.where(known_mask, -np.inf, scores)
        n_cand = known.n_items - known_mask.sum(axis=1)
        row_of = {int(u): r for r, u in enumerate(chunk)}
        for name, (users, items) in pairs.items():
            mine = np.nonzero(np.isin(users, chunk))[0]
            for part in np.array_split(mine, max(1, -(-len(mine) // PAIR_CHUNK))):
                if not len(part):
                    continue
                rows = np.array([row_of[int(u)] for u in users[part]], dtype=np.int64)
                it = items[part]
                s = scores[rows, it]
                lists = masked[rows]
                ahead = (lists > s[:, None]) | ((lists == s[:, None]) &
                                                (np.arange(known.n_items) < it[:, None]))
                res = out[name]
                res.rank[part] = 1 + ahead.sum(axis=1)
                res.candidates[part] = n_cand[rows]
                res.score[part] = s
                res.log_confidence[part] = s - log_z[rows]
    return out
