"""The bundled graph scenarios (registered in ``scenarios.SCENARIOS``): the karate club,
tiny, for the tests and a first look; and ``sbm``, a generated graph of 800 nodes whose
features carry the class weakly (what the benchmark runs). Its parameters were chosen on
seeds 3 and 4 so that the original measurably remembers what a request deletes: deleting
10% of the training nodes leaves the original 13-16 points above the oracle's accuracy on
them, deleting 10% of the edges 6-7 points on their endpoints, while an independent
retrain lands within 1 point of the oracle (a denser, more homophilous graph lets the
edges carry every node and leaves nothing to forget).

Recipe: full-graph steps (a batch is every training node), 200 epochs of SGD with momentum
and a cosine learning rate from 0.5 (plain SGD needs a large step on a two-layer GCN; Kipf &
Welling's Adam at 0.01 is the same budget of 200 full-graph steps), no weight decay and no
dropout, so the GCN fits its training nodes (the memorisation a forget request must undo).
"""

from __future__ import annotations

from functools import partial

from obliviate.tasks.graph.data import karate_graph, stochastic_block_graph
from obliviate.tasks.graph.scenario import GraphScenario
from obliviate.types import TrainRecipe

FULL_GRAPH = 1 << 20  # a batch size no bundled graph reaches: every step sees every node
RECIPE = TrainRecipe(epochs=200, lr=0.5, batch_size=FULL_GRAPH, momentum=0.9, weight_decay=0.0)


def graph_scenarios() -> dict[str, GraphScenario]:
    return {
        "karate": GraphScenario(
            name="karate", load=karate_graph, hidden=16, recipe=RECIPE,
            description="Zachary's karate club (torch_geometric's KarateClub: 34 nodes, 78 "
                        "edges, 4 communities, one-hot features); a 2-layer GCN"),
        "sbm": GraphScenario(
            name="sbm", hidden=64, recipe=RECIPE,
            load=partial(stochastic_block_graph, "sbm", per_class=200, n_classes=4, dim=256,
                         p_in=0.008, p_out=0.003, separation=0.3, seed=0),
            description="a stochastic block model, 800 nodes in 4 classes (seeded; about "
                        "1,400 edges, half inside a class), weakly class-dependent 256-d "
                        "features; a 2-layer GCN"),
    }
