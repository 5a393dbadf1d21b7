"""Presets of the regression, graph and recommendation kinds (merged into ``presets.PRESETS``).

Every entry here was chosen on seeds 3 and 4 of its scenario with the kind's benchmark
``--sweep`` (each seed with its own original and oracle); the benchmarks report seeds 0-2.
One rule throughout: the lowest mean headline gap over seeds 3, 4 (and every forget set the
benchmark runs on that scenario) among grid settings that neither diverge nor collapse
utility and stay within the issue-12 budget (<= 20% of retraining time); a mean within 0.1 of
the best goes to the cheaper setting. Paper defaults are always in the grid. A method that no
setting lets beat the untouched original gets no preset, and its comment says so. The grid and
its numbers (mean [seed 3 seed 4] where given) are in the comment above each entry.
"""

from __future__ import annotations

# Regression (benchmarks/regression.py --sweep M --scenario S --no-preset --seeds 3,4; log
# /work/logs/kb_regression_sweep*.log). Headline: Gap, mean over the two diabetes forget sets
# (random:0.1 and range:250:inf) and both seeds; the original's mean is 18.72, the noise
# floor's 1.24. Collapse: mean test R² more than 0.1 below the lower of the original's (0.424)
# and the oracle's (0.408), i.e. < 0.308. Time in % of retraining (a loaded 2-core machine).
_DIABETES: dict[str, dict[str, object]] = {
    # epochs 1 / 3 / 10 x lr 1e-3 / 3e-3: 10.67 / 10.23 (R² 0.226: collapse); 5.86 / 9.65;
    # 4.40 (R² 0.333, 8.9%) / 6.25.
    "gaussian_ft": {"epochs": 10},
    # epochs 1 / 3 / 10 x lr 1e-3 / 3e-3: 13.35 / 9.64 (5.2%); 12.39 / 16.25; 10.38 / 9.08
    # (24.8%: over the budget).
    "blindspot": {"lr": 3e-3},
    # lr 0.01 / 0.03 / 0.1 x epochs 10 / 30: 14.70 / 7.89 (R² 0.306); 7.57 (R² 0.311, 5.8%) /
    # 7.53 (14.3%: a tie, the cheaper wins); 25.34 / 15.46 (both collapse).
    "ft": {"lr": 0.03},
    # lr 1e-3 / 3e-3 / 1e-2 x epochs 3 / 10: 9.93 (R² 0.400) / 19.63 (R² 0.005); 12.43 / 11.50;
    # 26.12 / 12.22 (every setting but the first collapses, R² -0.23-0.26).
    "rl": {"lr": 1e-3, "epochs": 3},
    # beta 0.95 / 0.9 / 0.8 x epochs 10 / 30 (lr 0.01; lr 0.03 diverges): 11.84 / 7.48 (30.8%:
    # over the budget); 8.65 (R² 0.365, 10.8%) / 14.06 (R² 0.17); 32.77 / diverged.
    "neggrad+": {"beta": 0.9},
    # lr 1e-3 / 3e-3 / 1e-2 (the default 1e-4 leaves the model as it was: 18.70): 13.13 (R²
    # 0.409) / 16.26 (R² 0.106) / 221 (diverges).
    "ga": {"lr": 1e-3},
    # gamma 5e-4 / 5e-3 / 5e-2: 14.66 / 14.69 / 7.59 (R² 0.455, 6.9%).
    "l1_sparse": {"gamma": 0.05},
    # No preset for salun: lr 0.01 / 0.03 / 0.1 x epochs 5 / 10 give 10.09 / 11.94; 15.04 /
    # 12.13; 17.97 / 12.40, but every one collapses utility (R² 0.12-0.30). ssd: the default
    # alpha 10 leaves the model unchanged (18.72); alpha 5 / 2 / 1 give 18.90 / 18.12 / 18.34 at
    # R² 0.12 / 0.25 / 0.23 (collapse): nothing beats the original.
}
# outliers (one forget set, the 21 planted outliers): the original's Gap is 93.83, the noise
# floor's 0.80; the original's test R² is 0.251 (the outliers damage it), the oracle's 0.926,
# so collapse is R² < 0.151.
_OUTLIERS: dict[str, dict[str, object]] = {
    # epochs 1 / 3 / 10 x lr 1e-3 / 3e-3: 77.96 / 74.18; 63.95 / 57.93; 41.68 / 31.97. Best at
    # the edge, so one more step: epochs 30: 22.02 / 16.62 (worst seed 18.26; R² 0.772, 1.7%).
    "gaussian_ft": {"epochs": 30, "lr": 3e-3},
    # epochs 1 / 3 / 10 x lr 1e-3 / 3e-3: 79.92 / 75.89; 73.71 / 69.13; 57.67 / 47.95; at the
    # edge, epochs 30 lr 3e-3: 26.51 (R² 0.741, 3.7%).
    "blindspot": {"epochs": 30, "lr": 3e-3},
    # lr 0.01 / 0.03 / 0.1 x epochs 10 / 30: 90.42 / 82.78; 85.63 / 71.41; 30.22 (R² -0.09) /
    # 12.36 (R² 0.604, 2.5%).
    "ft": {"lr": 0.1, "epochs": 30},
    # lr 0.01 / 0.03 / 0.1 x epochs 5 / 10: 24.22 / 14.54 (R² 0.596, 1.1%); 22.58 / 20.87;
    # 26.78 (R² -0.01) / 24.50 (R² 0.110).
    "salun": {"lr": 0.01},
    # beta 0.95 / 0.9 / 0.8 x epochs 10 / 30 (lr 0.01): 87.00 / 76.06 (R² 0.308, 4.5%); 81.49 /
    # 43.23 (R² -0.97); 95.66 (R² -7.2) / diverged.
    "neggrad+": {"epochs": 30},
    # lr 1e-3 / 3e-3 / 1e-2: 90.70 / 87.99 (R² 0.266) / 168 (diverges).
    "ga": {"lr": 3e-3},
    # gamma 5e-4 / 5e-3 / 5e-2: 89.51 / 73.40 / 39.12 (R² 0.672).
    "l1_sparse": {"gamma": 0.05},
    # alpha 10 (default) / 5 / 2 / 1: 93.83 (unchanged) / 29.43 (R² -0.18) / 23.90 (R² 0.157) /
    # 23.98 (R² 0.155).
    "ssd": {"alpha": 2.0},
    # No preset for rl: the paper's setting (lr 0.01, 10 epochs) won its grid (lr 1e-3 / 3e-3 /
    # 1e-2 x epochs 3 / 10: 73.89 / 47.71 (R² -0.07); 65.44 / 42.05 (R² -0.35 / -0.42);
    # 58.15 (R² -0.73) / 24.95 (R² 0.162)).
}

# Graphs (benchmarks/graph.py --sweep M --seeds 3,4; log /work/logs/kb_graph_sweep.log), sbm,
# both forget sets (nodes:0.1, edges:0.1). Headline: Graph gap, mean over the two forget sets
# and both seeds, [nodes edges] means beside it; the original's is 4.15 [4.73 3.57], the noise
# floor's 0.47. Collapse: mean test accuracy more than 3 points below the lower of the
# original's (80.7) and the oracle's (81.4), i.e. < 77.7. Karate is too small to tune on.
_SBM: dict[str, dict[str, object]] = {
    # The paper's setting (a random student, 100 epochs) costs 160-180% of retraining and
    # scores 9.95 [12.98 6.92]; 10 epochs 5.03 (29%). From the original's weights, epochs 5 /
    # 10 / 20 x alpha 0.5 / 0.8: 5.72 / 3.65 [4.47 2.84] (test 79.6, 13.3%); 7.84 / 4.80
    # (26%); 25.50 / 7.96 (41-47%).
    "d2dgn": {"student_init": "original", "epochs": 5, "alpha": 0.8},
    # Batches of 256 nodes (the default): lr 0.01 / 0.05 / 0.1: 3.97 / 3.56 [4.53 2.60] /
    # 3.58 (15-18%). Full-graph steps (batch_size 1 << 20, as in training; log
    # /work/logs/graphbar_sweep*.log), momentum 0.9: weight decay 5e-4, lr 0.2 / 0.5 x epochs
    # 10 / 20 / 30: 3.79 / 3.56 / 3.20; 3.35 / 2.97 / 2.83. lr 0.7 / 0.85 / 1.0 x epochs 20 /
    # 25 / 30 / 35 / 40: 2.80 / 2.48 / 2.72 / 2.59 / 2.45; 2.73 / 2.63 / 2.58 / 2.46 / 2.55;
    # 2.11 / 2.97 / 2.33 / 1.93 (26.6%) / 1.93 (17-26%: unstable, seed 3 nodes 0.9-9.9); wd 0
    # is no better (lr 0.7-1.0: 2.40-3.90); lr 1.2 / 1.5 / 2.0 diverge (test 23-58).
    # Momentum 0.95, lr 0.3 / 0.5 / 0.7 x epochs 15-30: 2.37-3.43; nodes only, momentum 0.97,
    # lr 0.2-0.5 x epochs 20-30: 2.90-3.89. Weight decay (it undoes the memorised nodes),
    # epochs 30 / 35: lr 0.6 x wd 3e-3 / 5e-3 / 1e-2: 2.22 / 1.92; 1.88 / 1.54; 2.84 / 3.33.
    # lr 0.7: 2.06 / 1.57; 1.52 / 1.42; 3.03 / 3.64. lr 0.85 x wd 2e-3 / 3e-3 / 4e-3 / 5e-3 /
    # 1e-2: 2.17 (nodes only) / 1.49; 1.51 / 0.99 [1.00 0.98] (test 80.7, 13.0%); 1.37 (35
    # only); 1.45 / 1.75; 3.68 / 4.15; epochs 40, wd 2e-3 / 3e-3 / 4e-3: 1.48 / 1.11 (19.6%) /
    # 1.51. lr 1.0 x wd 2e-3 / 3e-3 / 4e-3 / 5e-3 x epochs 20-40: 3.52-9.84 (seed 3 nodes
    # collapses, 22-35). Seeds 0-2 (README): nodes 1.81, edges 0.88, 13-18% (bar met).
    "ft": {"batch_size": 1 << 20, "lr": 0.85, "weight_decay": 3e-3, "epochs": 35},
    # lr 1e-3 / 3e-3 / 1e-2: 3.98 / 3.92 [4.26 3.59] (test 80.1, 8.6%) / 7.42. Full-graph
    # steps, lr 1e-3 / 3e-3 / 1e-2 x epochs 5 / 10: 4.24 / 4.01; 3.97 / 3.93; 4.14 / 7.39.
    "rl": {"lr": 3e-3},
    # lr 0.01 / 0.03 / 0.1: 3.99 [4.57 3.41] (19.6%) / 4.30 / 6.11 (test 76.0). Full-graph
    # steps, lr 0.01 / 0.03 / 0.1 x epochs 5 / 10: 5.10 / 4.63; 4.84 / 4.95; 3.63 / 8.66.
    "salun": {"lr": 0.01},
    # The default 10 epochs cost 38-39% of retraining. beta 0.9 / 0.8 x epochs 3 / 5: 4.08
    # [4.78 3.39] (13.8%) / 3.96 (22.8%); 4.10 / 3.95 (22.2%): a hair under the original.
    # Full-graph steps (both batches), lr 0.1 / 0.3 x epochs 10 / 20 x beta 0.9 / 0.7:
    # 3.86 / 3.64, 3.84 / 3.14; 3.80 / 3.65, 3.80 / 4.18; momentum 0.9, lr 0.5 / 1.0 x beta
    # 0.97 / 0.9 x epochs 10 / 15: 3.61 / 3.55, 3.63 / 3.53; 3.58 / 3.75, 3.41 / 3.67.
    "neggrad+": {"beta": 0.9, "epochs": 3},
    # lr 1e-3 / 1e-2 / 3e-2 (the default 1e-4: 4.15, unchanged): 4.12 / 4.13 / 3.16 [3.59
    # 2.74] (test 79.5, 2.8%). lr 0.05 / 0.1 / 0.2 x epochs 3 / 5 / 10: 3.06 [3.13 2.98]
    # (test 79.9, 1.2%) / 6.08 / 41.89; 3.88 / 22.02 / 49.53; 14.13 / 42.66 / 49.62 (test
    # 26-79; every one past 3 epochs or at lr 0.2 collapses).
    "ga": {"lr": 0.05, "epochs": 3},
    # gamma 5e-3 / 5e-2 x lr 0.01 / 0.1: 3.92 / 3.51 [4.40 2.62] (12.8%); 3.84 / 56.82 (test
    # 17.2: collapse). Full-graph steps, epochs 20, gamma 1e-3 / 5e-3 x lr 0.2 / 0.5: 3.43 /
    # 2.82; 3.18 / 21.48 (collapse); lr 1.0, gamma 1e-4 / 1e-3 x epochs 20 / 30: 2.17 / 15.28;
    # 34.22 / 27.20 (collapses). Not retuned with ft's weight decay (l1 already shrinks).
    "l1_sparse": {"gamma": 5e-3, "lr": 0.1},
    # lr 1e-3 / 1e-2 x retain_fraction 0.3 / 1: 4.10 / 4.10; 3.72 [4.05 3.39] (3.8%) / 3.93.
    "bad_teacher": {"lr": 1e-2},
    # No preset for ssd: alpha 10 (default) / 5 / 2 / 1: 4.15 (unchanged) / 4.17 / 6.15 (test
    # 77.2) / 6.03 (77.5): nothing beats the original without collapsing. scrub: lr 5e-4
    # (default) / 5e-3 / 2e-2: 4.15 / 3.82 / 3.96, every one at 28-36% of retraining (over
    # the budget), so it runs the paper's setting.
}

KIND_PRESETS: dict[tuple[str, str], dict[str, object]] = {
    **{("diabetes", m): v for m, v in _DIABETES.items()},
    **{("outliers", m): v for m, v in _OUTLIERS.items()},
    **{("sbm", m): v for m, v in _SBM.items()},
}
KIND_CHOSEN_ON: dict[tuple[str, str], tuple[str, tuple[int, ...]]] = {
    key: (key[0], (3, 4)) for key in KIND_PRESETS
}

# Recommendation (benchmarks/recommendation.py sweep --forget F --method M --seeds 3,4; log
# /work/logs/kb_recommendation_sweep.log), recsys-small, one preset per kind of forget set
# (the rule per forget set: they pull apart). Headline: Rec.Gap (it holds Recall@20 and
# NDCG@20, so a collapse of utility shows in it; no separate utility check was run here).
# Originals 17.67 (user:0-9) / 30.86 (item:0-9) / 14.41 (random:0.1); noise floor 0.83 /
# 0.38 / 0.58. Only mmrecun and ssd were swept (time); the other methods run the defaults.
KIND_FORGET_PRESETS: dict[tuple[str, str, str], dict[str, object]] = {
    # lr 0.005 / 0.01 / 0.05 x epochs 1 / 3 (the default lr 0.05 x 10 epochs over-shoots:
    # 29.43 / 28.09 / 29.58, Recall@20 17-31 against the oracle's 48-49): user 18.00 / 18.64;
    # 18.11 / 18.47; 19.20 / 19.84: none beats the original's 17.67, so no user preset.
    # item 30.72 / 29.82; 30.47 / 28.99; 29.44 / 14.69 [worst 15.20] (0.6%).
    ("recsys-small", "mmrecun", "item"): {"lr": 0.05, "epochs": 3},
    # random 14.33 / 13.88; 14.33 / 13.28 [worst 13.39] (1.9%); 13.56 / 20.32.
    ("recsys-small", "mmrecun", "random"): {"lr": 0.01, "epochs": 3},
    # alpha 10 (default) / 5 / 2: user 6.64 / 7.45 / 7.72 and item 8.32 / 10.12 / 8.70 (the
    # default wins: no preset); random 14.41 (unchanged) / 4.63 [worst 5.71] (2.2%) / 9.39.
    ("recsys-small", "ssd", "random"): {"alpha": 5.0},
}
KIND_FORGET_CHOSEN_ON: dict[tuple[str, str, str], tuple[str, tuple[int, ...]]] = {
    key: (key[0], (3, 4)) for key in KIND_FORGET_PRESETS
}
