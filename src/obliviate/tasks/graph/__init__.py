"""Graphs: node classification with a two-layer GCN (Kipf & Welling 2017) on one graph.

A graph is one data set whose samples (nodes) depend on each other through edges, so the
package maps it onto the modality-agnostic ``Split``/``Batch``/``Task`` like this
(``task.py`` has the details): a row of a split is a node, its input is the pair
``(node id, view)`` and its target the node's label; a *view* is one version of the graph
(the training graph, the graph with the forget request applied, ...), held by the task, not
by the model. The task runs the GCN over the row's whole view and picks the row's node, so
every method written against ``Task`` (fine-tuning, gradient ascent, distillation, ...) runs
on a graph unchanged. Test labels live only in the test split, never in the task or in
``UnlearnData``: a method sees the graph's features and edges, and the training labels.

torch_geometric is imported only when a graph model or data set is built (``pyg.py``).
"""

from obliviate.tasks.graph.task import GraphTask

__all__ = ["GraphTask"]
