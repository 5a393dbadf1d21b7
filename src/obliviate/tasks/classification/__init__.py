"""Classifiers: the task, the bundled and user data, forget-set selectors, the small models,
their training recipe and the evaluation suite (METRICS.md, "Classifiers")."""

from obliviate.tasks.classification.task import ClassificationTask, hidden_output

__all__ = ["ClassificationTask", "hidden_output"]
