"""One package per kind of model (DESIGN.md, "Layout"): its ``Task`` (what a method needs from
a model), data, training recipe, evaluation and built scenario (an ``Experiment``)."""

from obliviate.tasks.causal_lm.task import CausalLMTask
from obliviate.tasks.classification.task import ClassificationTask

__all__ = ["CausalLMTask", "ClassificationTask"]
