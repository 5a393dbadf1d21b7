"""Recommenders: implicit feedback (a seeded generator or a user's interactions CSV), the
ranking task (BPR), BPR matrix factorisation with item side features, forget selectors for
users, items and interactions, and the evaluation suite (METRICS.md, "Recommenders")."""

from obliviate.tasks.recommendation.task import RankingTask, bpr_loss

__all__ = ["RankingTask", "bpr_loss"]
