"""The Unlearning Comparator: a web app comparing two unlearned models (or one and its oracle).

In the spirit of Lee et al., "Unlearning Comparator: A Visual Analytics System for Comparative
Evaluation of Machine Unlearning Methods" (2025): class-level, instance-level, layer-level and
attack views. It reads run records (through the store) and their feature sidecars only, and
never imports torch, so it starts in a moment and needs no model.
"""

from obliviate.views.dashboard.server import DashboardServer, make_server, serve

__all__ = ["DashboardServer", "make_server", "serve"]
