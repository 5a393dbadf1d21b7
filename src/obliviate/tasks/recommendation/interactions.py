"""Implicit feedback: the interactions table, the seeded generator and the train / test split.

An interaction is one (user, item) pair the user chose; its id is its row in the table. The
generator draws users and items from latent factors (the structure a factorisation model can
learn, so held-out items are predictable) and gives every item side features that are a
noisy linear image of its factors (standing in for image / text embeddings, so a model can
learn from them what an item is like even without its interactions).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

SPLIT_SEED = 0  # the test split is fixed per data set, not per run seed


@dataclass(frozen=True, eq=False)  # arrays: compared by identity
class Interactions:
    """``user`` / ``item`` (n,) int64 indices into ``users`` / ``items`` (the ids as given);
    ``features`` (n_items, f) float32 item side features (f may be 0); ``timestamp`` (n,) or
    None; ``row`` the source-file row of each interaction (data rows from 0)."""

    name: str
    user: np.ndarray
    item: np.ndarray
    users: tuple[str, ...]
    items: tuple[str, ...]
    features: np.ndarray
    timestamp: np.ndarray | None
    row: np.ndarray
    n_source_rows: int

    def __len__(self) -> int:
        return int(len(self.user))

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def fingerprint(self) -> str:
        """sha256 of everything that determines the models: changes whenever the data does."""
        h = hashlib.sha256()
        arrays = [self.user, self.item, self.features, self.row]
        if self.timestamp is not None:
            arrays.append(self.timestamp)
        for a in arrays:
            h.update(str(a.shape).encode())
            h.update(np.ascontiguousarray(a).tobytes())
        h.update("\x00".join(self.users).encode())
        h.update(b"\x01")
        h.update("\x00".join(self.items).encode())
        return h.hexdigest()


@dataclass(frozen=True)
class Generator:
    """The seeded synthetic data set (``recsys-small``'s defaults: ~5,000 interactions)."""

    n_users: int = 200
    n_items: int = 300
    factors: int = 8  # latent dimensions of users and items
    sharpness: float = 2.0  # how strongly choices follow the factors (vs popularity and luck)
    popularity: float = 1.0  # std of the item popularity term
    min_per_user: int = 10
    mean_per_user: float = 25.0  # interactions per user: min + Poisson(mean - min)
    n_features: int = 16  # width of the item side features
    feature_noise: float = 0.5  # std of the noise added to the features
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_users < 2 or self.n_items < 2 or self.factors < 1:
            raise ValueError(f"Generator: need >= 2 users and items and >= 1 factor, got "
                             f"{self.n_users}, {self.n_items}, {self.factors}")
        if not 1 <= self.min_per_user <= self.mean_per_user < self.n_items:
            raise ValueError(f"Generator: need 1 <= min_per_user ({self.min_per_user}) <= "
                             f"mean_per_user ({self.mean_per_user}) < n_items ({self.n_items})")

    def generate(self) -> Interactions:
        rng = np.random.default_rng(self.seed)
        u = rng.normal(size=(self.n_users, self.factors))
        v = rng.normal(size=(self.n_items, self.factors))
        pop = self.popularity * rng.normal(size=self.n_items)
        affinity = self.sharpness * (u @ v.T) / np.sqrt(self.factors) + pop
        extra = rng.poisson(self.mean_per_user - self.min_per_user, size=self.n_users)
        counts = np.minimum(self.min_per_user + extra, self.n_items // 2)
        # Gumbel top-k: the k largest of affinity + Gumbel noise are k draws without
        # replacement with P(item) proportional to exp(affinity) (Vieira 2014; Kool et al. 2019).
        keys = affinity + rng.gumbel(size=affinity.shape)
        users, items = [], []
        for i, k in enumerate(counts):
            chosen = np.sort(np.argsort(-keys[i], kind="stable")[:k])
            users.append(np.full(k, i))
            items.append(chosen)
        proj = rng.normal(size=(self.factors, self.n_features)) / np.sqrt(self.factors)
        feats = v @ proj + self.feature_noise * rng.normal(size=(self.n_items, self.n_features))
        user, item = np.concatenate(users), np.concatenate(items)
        return Interactions(
            name=f"generated (seed {self.seed})", user=user.astype(np.int64),
            item=item.astype(np.int64), users=tuple(str(i) for i in range(self.n_users)),
            items=tuple(str(i) for i in range(self.n_items)), features=feats.astype(np.float32),
            timestamp=None, row=np.arange(len(user), dtype=np.int64),
            n_source_rows=len(user))


def split_train_test(data: Interactions, test_fraction: float,
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Sorted interaction ids of the training and the test rows.

    Per user, ``round(test_fraction * n_u)`` interactions (at least 1, and never all: a user
    keeps at least one training interaction) are held out: the latest ones when the data has
    timestamps (ties by row order), else a seeded random choice (``SPLIT_SEED``). A user with
    a single interaction keeps it for training.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(SPLIT_SEED)
    order = np.argsort(data.user, kind="stable")
    bounds = np.searchsorted(data.user[order], np.arange(data.n_users + 1))
    test: list[np.ndarray] = []
    for u in range(data.n_users):
        ids = order[bounds[u]:bounds[u + 1]]
        if len(ids) < 2:
            continue
        n_test = min(len(ids) - 1, max(1, int(round(test_fraction * len(ids)))))
        if data.timestamp is not None:
            by_time = ids[np.lexsort((ids, data.timestamp[ids]))]
            test.append(by_time[-n_test:])
        else:
            test.append(rng.choice(ids, size=n_test, replace=False))
    test_ids = np.sort(np.concatenate(test)) if test else np.zeros(0, dtype=np.int64)
    train_ids = np.setdiff1d(np.arange(len(data)), test_ids)
    return train_ids.astype(np.int64), test_ids.astype(np.int64)
