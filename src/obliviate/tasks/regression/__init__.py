"""Regression: the task (squared error on standardised targets), scikit-learn's diabetes and
a synthetic set with planted outliers, user tables, forget-set selectors (random, target
range, indices, outliers), an MLP, its recipe and the evaluation suite (METRICS.md,
"Regression")."""

from obliviate.tasks.regression.task import RegressionTask

__all__ = ["RegressionTask"]
