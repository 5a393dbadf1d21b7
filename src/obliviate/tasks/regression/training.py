"""How a regressor is trained: the classifiers' loop (SGD with momentum, cosine learning
rate, mean of the task's per-sample loss), with the task's squared error.

One loop on purpose: ``methods.retrain`` retrains any model with a ``TrainRecipe`` through
``obliviate.tasks.classification.training.train``, so training the original and the oracle
with it here is what lets exact retraining rebuild the oracle weight for weight.
"""

from obliviate.tasks.classification.training import epoch_batches, train

__all__ = ["epoch_batches", "train"]
