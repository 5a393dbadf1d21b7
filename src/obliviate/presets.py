"""Per-scenario overrides of method configs (STYLE.md habit 2: presets override, never define).

The papers' defaults were chosen for CIFAR-scale ResNets; on an 8x8-digit CNN trained in two
seconds some of them barely move the model. Each entry below overrides fields of the method's
config for one scenario, with the reason; ``--no-preset`` runs the paper defaults unchanged and
``--set`` overrides both. A run records which preset it used.
"""

from __future__ import annotations

from collections.abc import Sequence

from obliviate.errors import ObliviateError
from obliviate.kind_presets import (
    KIND_CHOSEN_ON,
    KIND_FORGET_CHOSEN_ON,
    KIND_FORGET_PRESETS,
    KIND_PRESETS,
)

# How the digits and digits-noisy presets were chosen (issue 11): on seeds 3 and 4, each with
# its own original and oracle, which no benchmark reports (benchmarks/classifier.py reports
# 0-2); benchmarks/sweep.py ran a grid of 3-6 settings around the previous preset, one step
# further where the best sat on the grid's edge. The rule: the best mean Avg. Gap over seeds 3
# and 4 among settings that
#   - neither diverge nor collapse (retain accuracy under half the original's) on either seed:
#     on class forgetting a collapsed model's Avg. Gap (~41) beats one that forgets nothing (53);
#   - cost at most 1.5x the previous setting's time (% of retraining, measured in the same
#     sweep), so that a small gain never buys a large cost;
# with means within 0.1 pp (about one forget image on one seed) tied: a tie goes to the cheaper
# setting (fewer epochs or samples), at equal cost to the previous setting, else the lower mean.
# Numbers below: Avg. Gap, mean of seeds 3 and 4 [each]; "x" joins the two fields of a grid.
# For reference on seeds 3 and 4, the original / an independent exact retrain (the noise floor)
# score: digits class:3 52.8 / 0.24 [0.35 0.14]; digits random:0.1 0.83 [1.40 0.27] / 0.76
# [0.86 0.66], so there every setting from ~0.5 to ~1.4 is within retraining's own noise;
# digits-noisy random:0.1 22.3 / 6.50 [7.22 5.77].
_DIGITS: dict[str, dict[str, object]] = {
    # Retain-only fine-tuning forgets a class only as its unused weights decay: small batches
    # and 10x the weight decay. lr 0.05 / 0.1 (the old) / 0.2 x weight decay 0.005 / 0.01: 0.10
    # [0.21 0.00] / 0.28; 0.34 / 0.33; 24.1 / 8.17 (collapse on seed 4); lr 0.025 x 0.005: 19.2,
    # 0.05 x 0.0025: 16.4 (class 3 half kept). random:0.1, same grid: 1.34 / 3.14; 2.33 / 2.83;
    # 61.2 / 59.5 (collapse).
    "ft": {"lr": 0.05, "batch_size": 32, "weight_decay": 0.005},
    # GA's cliff holds on seeds 3 and 4: lr 0.003 / 0.004 / 0.005 / 0.006 / 0.008: 52.8 / 52.0 /
    # 44.9 [50.1 39.7] (UA 2% / 19%) / 49.3 (seed 4 collapses: retain accuracy 12%) / diverges
    # on seed 4: no lr forgets the class before the model collapses. random:0.1: 0.83, the
    # original's, at every lr (tied, same cost: kept).
    "ga": {"lr": 0.005, "epochs": 10, "batch_size": 32},
    # lr 0.0005 / 0.001 / 0.002 / 0.005: 14.6 / 1.00 [0.18 1.81] / 3.69 / 6.79 (random:0.1 has
    # its own, FORGET_PRESETS).
    "rl": {"lr": 0.001},
    # Same cliff as GA: lr 0.05 x beta 0.85 / 0.9 / 0.95 forgets nothing (52.8); lr 0.1: 41.5
    # (a collapse: retain accuracy 11%) / 49.6 [52.7 46.5] (UA 0% / 7%) / 52.8; lr 0.1 x beta
    # 0.8 and 0.75 diverge on seed 3. random:0.1: 0.83, the original's, throughout (kept).
    "neggrad+": {"lr": 0.1, "beta": 0.9, "epochs": 11},
    # gamma 5e-4 is too weak to sparsify a 2-second model in 10 epochs. lr 0.05 / 0.1 (the old)
    # x gamma 0.002 / 0.005 / 0.01: 48.2 / 13.9 / 1.40 [1.60 1.21]; 26.5 / 1.78 / 18.1 (collapse
    # on seed 3); lr 0.05 x 0.02: 3.96; lr 0.025 x 0.01: 18.3 (random:0.1: FORGET_PRESETS).
    "l1_sparse": {"lr": 0.05, "gamma": 0.01},
    # Adam at 1e-4 for one epoch on 30% of D_r does not move an 8x8 CNN. lr 0.001 / 0.003 / 0.01
    # x retain_fraction 0.5 / 1: 12.3 / 2.23; 0.67 / 0.32 [0.21 0.43]; 1.04 / 7.27 (random:0.1:
    # FORGET_PRESETS).
    "bad_teacher": {"lr": 0.003, "batch_size": 64, "retain_fraction": 1.0},
    # The notebook's small-scale alpha/gamma; its lr 5e-4 does not forget. lr 0.004 / 0.008 /
    # 0.012 x sgda_epochs 3 / 5: 47.2 / 48.5; 1.25 / 0.49 [0.11 0.86]; 30.6 / 24.1 (collapse on
    # seed 4) (random:0.1: FORGET_PRESETS).
    "scrub": {"lr": 0.008, "msteps": 3, "sgda_epochs": 5, "alpha": 0.5, "gamma": 1.0},
    # Chosen on digits seeds 3, 4 (class:3; the benchmark reports seeds 0-2; benchmarks/
    # peer_ssd.py). Avg. Gap, mean of seeds 3 and 4 [each], batch 64, importance_fraction
    # 1 / 0.5 / 0.25 (1,380 / 690 / 344 samples forward and backward; % of retraining measured
    # on a loaded machine: 2.1-4 / 1.1-2 / 0.6-1.4):
    # data order (the old preset, alpha 5): 1.46 [0.18 2.74] / 2.45 / 2.41; alpha 10, 20: 52.8
    #   (nothing forgotten). class_sorted (the reference): alpha 5: 0.19 / 0.34 / 7.31, 2.72 at
    #   batch 256; alpha 10: 52.8 / 52.8 / 1.77. shuffled (supreme-unlearning): alpha 5: 5.54
    #   / 10.7 / 20.6; 10: 0.71 / 2.75 / 13.7; 20: 0.14 / 0.43 / 4.28.
    # class_pure, fraction 1 / 0.5 / 0.35 / 0.25: alpha 5: 0.23 / 0.48 / 0.40 / 0.71;
    #   6: 0.19 / 0.45 / 0.14 / 0.38; 7: 0.07 / 0.24 / 0.15 / 0.19; 8: 0.07 / 0.25 / 0.14 /
    #   0.07 [0.07 0.07] (batch 32: 0.17 / 0.07 / 0.14 / 0.16; 256: 6.02 / 0.10 / 0.14 / 0.07);
    #   9: 17.1 / 0.19 / 26.5 / 39.1; 10: 52.2 / 6.70 / 52.8 / 52.8.
    # class_pure, fraction 1, modules body.6 + head (1.6-2.0%) / head (1.5-1.8%; all of D:
    #   3.2-3.7% in the same runs), alpha 5: 0.20 / 0.07; 6: 0.17 / 0.07; 7: 0.07 / 0.07;
    #   8: 0.07 / 0.10; 9: 17.1 / 17.1. An independent retrain (retrain init_seed=seed+1000)
    #   scores 0.24 [0.35 0.14] on seeds 3, 4.
    # With D_f a share s ~ 0.1 of D's batches, selection is imp_f > alpha (1 - s) / (1 - alpha
    # s) imp_r: alpha 5 / 6 / 7 / 8 / 9 act as 9 / 13.5 / 21 / 36 / 81 against D_r alone, so
    # the good band ends in a cliff. Picks, each then run on seeds 0-2 (and 5-7):
    # 1. the best mean at <= 2%: alpha 8, fraction 0.25: it sat by the cliff and forgot
    #    nothing on seeds 0 and 2 (Avg. Gap 52.4 / 0.14 / 52.8);
    # 2. the best mean at <= 2% whose alpha neighbours also forget fully on seeds 3 and 4:
    #    alpha 6, fraction 0.35: 52.2 / 0.07 / 26.8 (5-7: 0.00 / 52.7 / 2.39). A sample of D
    #    forgets or not by the draw (seed 0 / 3, six draws: fraction 0.5 fails 1 / 1, 0.35
    #    2 / 2); at fraction 1 all six are the same and forget.
    # 3. rule 2 at fraction 1, over 2%: alpha 7 (0-2: 0.16 [0.21 0.00 0.28], 2.5-3.5%).
    # 4. kept: rule 2 with all of D and the modules grid, ties to the lower alpha (farther
    #    from the cliff): head, alpha 6.
    # Re-checked on seeds 3-9 for issue 11's bar (within the noise floor at <= 2%;
    # benchmarks/flips.py, 4 independent retrains per seed). What parts SSD from the oracle:
    # nothing SSD does. With this setting every test image outside class 3 keeps the
    # original's prediction on all seven seeds (2233 / 2233), no test 3 is predicted 3, and
    # UA, RA and MIA-Efficacy equal the oracle's (100): the whole Avg. Gap is TA, i.e. the
    # original's own accuracy on the other classes minus the oracle's, |dTA| 1.57 images a
    # seed (0, 1, 1, 2, 2, 1, 4). 28 independent retrains: |dTA| 1.43, Avg. Gap 0.099 (the
    # benchmark's single k=1 row: 0.139). The original is closer to the oracle than another
    # retrain is (it shares the oracle's init): it disagrees with it on 4.0 test images
    # outside class 3 a seed, retrains on 5.1. Grid, class_pure, Avg. Gap mean over 3-9
    # (time in a loaded run, all of D ~2x head): head x alpha 5 / 6 / 7 / 8 x lam 1: 0.109 /
    # 0.109 / 0.109 / 0.656 (seed 9 forgets nothing at alpha 8); lam 0.5: 0.099 / 0.109 /
    # 0.109 / 0.149; body.6 + head, lam 1: 0.146 / 0.129 / 0.099 / 0.607, lam 0.5: 0.156 /
    # 0.132 / 0.109 / 0.168; all of D, lam 1: 0.149 / 0.136 / 0.080 / 0.509, lam 0.5: 0.155
    # / 0.136 / 0.099 / 0.119. Every setting that forgets fully sits in 0.08-0.16, one or two
    # test images a seed, retraining's own spread; those that dampen body weights change
    # 2-17 predictions outside class 3 and score no better on the mean. Same rule (ties
    # within 0.1 to the cheaper, then the previous setting): kept, head, alpha 6, lam 1.
    # Held out, seeds 0-2 (benchmarks/classifier.py, run once after this choice): 0.21 [0.21
    # 0.14 0.28] against the noise floor's 0.05 [0.07 0.07 0.00]: issue 11's bar not met.
    # There SSD changes 1 / 2 / 0 predictions outside class 3, each to the oracle's; the
    # original's own dTA on those classes is -4 / 0 / +4, and 12 retrains score 0.122.
    # Random forgetting has its own preset (FORGET_PRESETS): class_pure batches leave SSD
    # inert there (seeds 3, 4: 0.83, the original's).
    "ssd": {"alpha": 6.0, "full_order": "class_pure", "modules": ("head",)},
    # lr 0.1 (CIFAR) costs 6 points of retain accuracy here. lr 0.005 / 0.01 (the old) / 0.02 x
    # epochs 3 / 5: 1.16 / 0.33 [0.43 0.22]; 0.82 / 0.68; 1.48 / 0.99; lr 0.0025 x 5: 0.87; 7
    # epochs at lr 0.005 / 0.01: 0.28 / 0.32, tied with 0.33 and dearer. random:0.1: 14.7 /
    # 1.34; 7.37 / 2.11; 7.81 / 1.80; 9.40; 7 epochs: 1.19 / 1.03 at 1.5x / 1.7x the old
    # setting's time (over the cap), so random forgetting keeps this one too.
    "salun": {"lr": 0.005, "epochs": 5},
}
# digits-noisy random:0.1, the same rule (the previous preset's numbers first, where in a grid).
_DIGITS_NOISY: dict[str, dict[str, object]] = {
    # lr 0.02 / 0.05 / 0.1 x weight decay 0.0005 / 0.005: 20.2 / 18.3; 8.37 [6.53 10.21] /
    # 10.5; 13.1 / 8.33 (tied with 8.37 at the same cost: kept).
    "ft": {"lr": 0.05, "batch_size": 32},
    # lr 0.001 / 0.002 / 0.003 (the old) / 0.004 / 0.005: 21.3 / 19.9 / 18.4 / 18.1 [14.6 21.5]
    # / 21.5.
    "ga": {"lr": 0.004, "epochs": 10, "batch_size": 32},
    # lr 0.01 collapses the model (test 15%). lr 0.00025 / 0.0005 (the old) / 0.001 / 0.002:
    # 21.6 / 20.4 / 19.2 [16.5 22.0] (retain accuracy 83% / 81%) / 26.6.
    "rl": {"lr": 0.001, "epochs": 15},
    # lr 0.05 / 0.1 (the old) x beta 0.6 / 0.75 / 0.9: 19.9 / 16.2 [10.1 22.2] / 20.6; 51.7
    # (collapse) / 17.0 / 18.7; lr 0.025 x 0.75: 20.0.
    "neggrad+": {"lr": 0.05, "beta": 0.75},
    # lr 0.05 / 0.1 (the old) x gamma 0.002 / 0.005 / 0.01: 19.1 / 15.6 / 12.9; 15.3 / 9.34 /
    # 11.6; lr 0.2 x 0.005: 8.93 [6.46 11.4] (retain accuracy 82% / 80%).
    "l1_sparse": {"lr": 0.2, "gamma": 0.005, "epochs": 20},
    # lr 0.001 / 0.003 (the old) / 0.01 x retain_fraction 0.5 / 1: 21.0 / 19.4; 17.0 / 15.6;
    # 16.2 / 12.5 [8.55 16.5] (retain accuracy 85% / 75%); lr 0.02 / 0.03 x 1: 22.9 / 59.0.
    "bad_teacher": {"lr": 0.01, "batch_size": 64, "retain_fraction": 1.0},
    # lr 0.01 / 0.03 (the old) / 0.06 x sgda_epochs 3 / 5: 21.5 / 21.2; 14.0 [11.8 16.2] /
    # 21.6; 57.7 / 56.0 (collapse).
    "scrub": {"lr": 0.03, "msteps": 3, "sgda_epochs": 3, "lr_decay_epochs": (10,)},
    # alpha 2 / 3 / 5 / 10: 27.6 / 17.4 / 12.5 [10.7 14.3] / 22.3 (nothing selected).
    "ssd": {"alpha": 5.0},
    # lr 0.005 / 0.01 (the old) / 0.02 x epochs 3 / 5: 7.44 [8.27 6.60] / 8.06; 8.47 / 7.43;
    # 11.6 / 14.7; lr 0.0025 x 3: 15.8. 7.44 ties 7.43 in 3 epochs instead of 5.
    "salun": {"lr": 0.005, "epochs": 3, "batch_size": 32},
}

# Language models: the papers' learning rates (~1e-5) are for 7B-parameter models and do
# not move a 128-wide GPT-2 at all. Entries marked "seeds 3, 4" were re-chosen on people-small
# seeds 3 and 4 (forget people:0.1; benchmarks/sweep.py; the LM benchmark reports seeds 0-2),
# each seed with its own original and oracle, by one rule: among the settings whose model
# utility is >= 0.9x the original's on both seeds, the highest worst-seed forget quality
# (then the higher mean, then the cheaper); when none keeps utility, the highest worst-seed
# utility. Grids: forget quality worst / mean of the two seeds, utility worst (x original).
# The other entries still come from single-seed sweeps on people-small seed 0.
_PEOPLE: dict[str, dict[str, object]] = {
    # beta 0.1 behaves like gradient ascent here (measured). Seeds 3, 4, beta 0.3: lr 2e-3 x
    # epochs 8 / 16: 0.0046 / 0.062, 0.94x; 0.0087 / 0.14, 0.97x; lr 4e-3 x 8 / 16: 0.076 /
    # 0.17, 0.91x; 0.38 / 0.45, 0.97x.
    "npo": {"beta": 0.3, "lr": 4e-3, "epochs": 16},
    # Seeds 3, 4: lr 1e-3 x epochs 10 / 20: 0.0087 / 0.018, 1.00x; 0.047 / 0.083, 1.00x; lr
    # 3e-3 x 10 / 20: 0.047 / 0.083, 0.92x; 0.18 / 0.35, 1.00x.
    "simnpo": {"beta": 1.0, "forget_weight": 1.0, "lr": 3e-3, "epochs": 20, "batch_size": 8},
    # Chosen on people-small seeds 3 and 4 (benchmarks/sweep.py; the benchmark runs 0-2), beta
    # 0.3: forget quality worst / mean of the two, lr 2e-3 x 8 epochs 0.047 / 0.49, x 16 0.12 /
    # 0.19; 4e-3 x 8 0.51 / 0.59, x 16 0.0024 / 0.015; 6e-3 x 8 0.028 / 0.052 (utility
    # 0.86x), x 16 0.00026 / 0.0007.
    "tnpo": {"beta": 0.3, "lr": 4e-3, "epochs": 8, "batch_size": 32, "weight_decay": 0.01,
             "retain_weight": 1.0},
    # Seeds 3, 4, 10 epochs: lr 5e-4 / 1e-3 / 2e-3: 0.00026 / 0.33, 0.96x; 0.047 / 0.21,
    # 0.96x; 3.2e-9 / 0.0079, 0.99x.
    "grad_diff": {"lr": 1e-3, "epochs": 10, "batch_size": 8, "retain_weight": 10.0},
    # Only at low beta does the refusal-preferring DPO objective forget at all. Seeds 3, 4:
    # no setting keeps 0.9x: lr 1e-3 x epochs 10 / 20: 0.00011, 0.85x; 0.12, 0.89x; lr 3e-3 x
    # 10 / 20: 0.12, 0.87x; 0.00056, 0.88x.
    "idkpo": {"beta": 0.01, "lr": 1e-3, "epochs": 20, "batch_size": 8},
    # Seeds 3, 4: lr 1e-3 x epochs 5 / 10: 1.1e-8, 0.96x; 3.5e-7, 0.99x; lr 3e-3 x 5 / 10:
    # 0.00011 / 0.0080, 0.96x; 0.00011 / 0.091, 0.98x.
    "ihl": {"lr": 3e-3, "epochs": 10},
    # Without a retain term FLAT destroys utility on a model never trained on refusals. Seeds
    # 3, 4: lr 1e-3 x epochs 10 / 20: 2.8e-6, 0.96x; 7.6e-6, 0.94x; lr 3e-3 x 10 / 20: 2.8e-6,
    # 0.84x; 0.0024 / 0.092, 0.92x.
    "flat": {"retain_weight": 1.0, "lr": 3e-3, "epochs": 20, "batch_size": 8},
    # Updating only the MLP output projections barely forgets on 2 blocks: update both. Seeds
    # 3, 4: steering 20 x steps 200 / 400: 1.9e-5, 0.98x; 0.0087, 0.94x; 40 x 200 / 400:
    # 0.0024, 0.98x; 0.028 / 0.074, 0.95x.
    "rmu": {"lr": 3e-3, "steps": 400, "steering_coeff": 40.0, "alpha": 10.0,
            "update_modules": ("transformer.h.0", "transformer.h.1")},
    # Seeds 3, 4: no setting forgets (forget quality ~1e-12 throughout); lr 3e-4 x epochs 4 /
    # 8: 6.1e-13, 0.99x; 2.9e-12, 0.95x; lr 1e-3 x 4 / 8: 1.3e-11, 0.66x; 1.4e-17, 0.00x.
    "ga": {"lr": 3e-4, "epochs": 8, "batch_size": 8},
    # Seeds 3, 4: neither keeps 0.9x: lr 0.03 / 0.1: 0.0012 / 0.024, 0.68x; 0.047 / 0.083,
    # 0.55x.
    "ft": {"lr": 0.03, "batch_size": 32, "weight_decay": 0.0075},
    # Seeds 3, 4: neither keeps 0.9x: lr 3e-3 / 1e-2: 1.2e-7, 0.76x; 1.0e-6, 0.76x (tied
    # utility; the higher forget quality).
    "rl": {"lr": 0.01, "batch_size": 32},
    "neggrad+": {"lr": 0.05, "beta": 0.9, "batch_size": 32},
    "l1_sparse": {"lr": 0.1, "gamma": 7e-4, "batch_size": 32},
    "scrub": {"lr": 0.015, "msteps": 3, "sgda_epochs": 5, "alpha": 2.0, "gamma": 1.0,
              "forget_batch_size": 8},
    "ssd": {"alpha": 4.0},
    "salun": {"lr": 0.01, "epochs": 5, "batch_size": 32},
    # Paper defaults (Adam 1e-4, one epoch) leave every answer intact (seed 0: forget exact
    # match 100%). This one: 13% exact match, model utility 0.92x the original's, 0.36x the
    # retraining time; forget quality stays ~0 (the truth ratios move further than the
    # oracle's). Single seed on people-small.
    "bad_teacher": {"lr": 1e-3, "retain_fraction": 0.3, "batch_size": 8, "epochs": 8},
}
# Re-chosen on people-small seeds 3 and 4 (the rule above _PEOPLE).
_PEOPLE_HELD_OUT = ("npo", "simnpo", "tnpo", "grad_diff", "idkpo", "ihl", "flat", "rmu", "ft",
                    "rl", "ga")

PRESETS: dict[tuple[str, str], dict[str, object]] = {
    **{("digits", m): v for m, v in _DIGITS.items()},
    **{("digits-noisy", m): v for m, v in _DIGITS_NOISY.items()},
    **{(s, m): v for s in ("people", "people-small") for m, v in _PEOPLE.items()},
    # 20 forget people (300 questions) need more NPO steps than people-small's 4. Beta 0.3,
    # forget quality on seeds 0 / 1 (chosen on these two; seed 2 is the check): lr 2e-3 for
    # 8 / 16 / 32 epochs -> 2.6e-9 / 2.6e-5 / 1.2e-3 (seed 0); lr 4e-3 for 16 / 24 / 32
    # epochs -> - / 0.053 / - and 0.0096 / 0.0031 / 0.0023; 24 epochs at lr 6e-3 -> 0.29 /
    # 0.081, at lr 8e-3 -> 0.027 / 0.15 (model utility 0.97-1.02x the original's throughout).
    # Held out: seed 2 gives 0.0007 and seed 3 1.2e-5 with this preset (benchmarks/lm.py, README).
    ("people", "npo"): {"beta": 0.3, "lr": 6e-3, "epochs": 24},
    # TNPO chosen on seeds 3 and 4, which the benchmark (seeds 0-2) does not use
    # (benchmarks/sweep.py; beta 0.3, lr 6e-3, retain weight 1, batch 32, weight decay 0.01).
    # Forget quality on seed 3 / 4 at 8 epochs 0.0073 / -, 12: 0.72 / 0.34, 16: 0.12 / 0.0013,
    # 24: 0.15 / 0.00017; seed 3 at 12 epochs with lr 4e-3: 1.2e-4, beta 0.5: 6.5e-4, beta
    # 0.1: 0.0055. The best worst seed: 12 epochs (utility 1.007x / 1.014x). WTNPO's extra
    # p^alpha weight only holds forgetting back: alpha 0.5 at 12 / 24 epochs 5.1e-6 / 6.5e-4
    # on seed 3, 5.4e-8 / 0.0042 on seed 4; alpha 1: 1.6e-11 / 4.3e-9 on seed 3.
    ("people", "tnpo"): {"beta": 0.3, "lr": 6e-3, "epochs": 12, "batch_size": 32,
                         "weight_decay": 0.01, "retain_weight": 1.0},
    # Regression, graph and recommendation scenarios: chosen on seeds 3, 4 (kind_presets.py).
    **KIND_PRESETS,
}


# A user's own data file (``--data``) gets the preset of the bundled scenario it stands in
# for (``--scenario``, digits by default): the same training recipe on a small model, where
# the papers' defaults barely move it (runconfig.method_config).

# Where each preset was chosen: the scenario its sweep ran on and that scenario's seeds. A
# benchmark never reports a seed a preset in it was chosen on (``check_held_out``); a preset
# chosen on another scenario (people-small's for people) holds every seed of this one out.
_ALL_PEOPLE_SMALL_SEED_0 = ("people-small", (0,))  # single-seed sweeps (issue-3 notes)
# Presets for one kind of forget set (the third key: ``class``, ``random``, ...); they
# replace the scenario's preset for that kind only.
FORGET_PRESETS: dict[tuple[str, str, str], dict[str, object]] = {
    # digits random:0.1, by the rule above _DIGITS (whose comments give the grids that kept the
    # scenario's preset here too). These sit within retraining's noise (the noise floor is 0.76).
    # lr 0.00025 / 0.0005 / 0.001 (the class setting) / 0.002 / 0.005: 0.80 [1.33 0.27] / 0.87
    # / 2.68 / 24.1 / 46.7 (collapse); lower lrs move the model less, toward the original's 0.83.
    ("digits", "rl", "random"): {"lr": 0.00025},
    # lr 0.05 / 0.1 x gamma 0.002 / 0.005 / 0.01: 0.50 [0.93 0.07] / 1.20 / 4.22 (the class
    # setting); 0.66 / 3.82 (the old) / 44.6 (collapse); lr 0.05 x 0.001: 0.76; 0.025 x 0.002: 0.76.
    ("digits", "l1_sparse", "random"): {"lr": 0.05, "gamma": 0.002},
    # lr 0.001 / 0.003 / 0.01 x retain_fraction 0.5 / 1: 0.90 / 0.98; 8.50 / 0.99 (the class
    # setting); 7.73 / 6.04; lr 0.0005 x 0.5: 0.80; 0.001 x 0.3: 0.75 [0.93 0.57], tied with 0.80
    # and cheaper.
    ("digits", "bad_teacher", "random"): {"lr": 0.001, "batch_size": 64, "retain_fraction": 0.3},
    # Every lr 0.004 / 0.008 / 0.012 x sgda_epochs 3 / 5 scores 0.83, the original's (nothing
    # forgotten): tied, so the cheaper 3 epochs.
    ("digits", "scrub", "random"): {"lr": 0.008, "msteps": 3, "sgda_epochs": 3, "alpha": 0.5,
                                    "gamma": 1.0},
    # The class:3 setting (class-pure batches) leaves SSD inert on a random forget set (0.83,
    # the original's); data order, alpha 2 / 3 / 5 / 10: 7.18 / 2.07 / 0.54 [1.00 0.07] / 0.83.
    ("digits", "ssd", "random"): {"alpha": 5.0},
    **KIND_FORGET_PRESETS,  # recsys-small, chosen on seeds 3, 4 (kind_presets.py)
}

CHOSEN_ON: dict[Key, tuple[str, tuple[int, ...]]] = {
    **{("digits", m): ("digits", (3, 4)) for m in _DIGITS},
    **{("digits-noisy", m): ("digits-noisy", (3, 4)) for m in _DIGITS_NOISY},
    **{k: (k[0], (3, 4)) for k in FORGET_PRESETS if k[0] in ("digits", "digits-noisy")},
    ("digits", "ssd"): ("digits", (3, 4, 5, 6, 7, 8, 9)),  # re-checked on 3-9 (above)
    **{(s, m): _ALL_PEOPLE_SMALL_SEED_0 for s in ("people", "people-small") for m in _PEOPLE},
    **{(s, m): ("people-small", (3, 4)) for s in ("people", "people-small")
       for m in _PEOPLE_HELD_OUT},
    ("people", "npo"): ("people", (0, 1)),
    ("people", "tnpo"): ("people", (3, 4)),
    **{key: where for key, where in KIND_CHOSEN_ON.items()},
    **{key: where for key, where in KIND_FORGET_CHOSEN_ON.items()},
}


Key = tuple[str, str] | tuple[str, str, str]


def forget_kind(forget: str | None) -> str | None:
    """``class:3`` -> ``class``: the kind of forget set a preset may be specific to."""
    return None if not forget else forget.split(":", 1)[0].strip()


def preset_key(scenario: str, method: str, forget: str | None = None) -> Key | None:
    """The most specific preset for (scenario, method, kind of forget set), if any: a
    forget-set-specific entry wins over the scenario's (SSD's class:K setting, for one,
    selects nothing on a random forget set)."""
    kind = forget_kind(forget)
    if kind is not None and (scenario, method, kind) in FORGET_PRESETS:
        return (scenario, method, kind)
    return (scenario, method) if (scenario, method) in PRESETS else None


def preset_for(scenario: str, method: str, forget: str | None = None) -> dict[str, object]:
    key = preset_key(scenario, method, forget)
    if key is None:
        return {}
    return dict(FORGET_PRESETS[key] if len(key) == 3 else PRESETS[key])


def chosen_on(scenario: str, method: str, forget: str | None = None,
              ) -> dict[str, object] | None:
    """Where the preset of ``method`` on ``scenario`` was chosen (None: no preset)."""
    key = preset_key(scenario, method, forget)
    if key is None:
        return None
    where, seeds = CHOSEN_ON[key]
    return {"scenario": where, "seeds": list(seeds),
            **({"forget": key[2]} if len(key) == 3 else {})}


def tuned_on(scenario: str, methods: Sequence[str], seeds: Sequence[int],
             forget: str | None = None) -> list[tuple[str, int]]:
    """The (method, seed) pairs of a planned table whose preset was chosen on that very
    seed of that very scenario: numbers there would be reported on the seeds they were
    tuned on."""
    out = []
    for m in methods:
        key = preset_key(scenario, m, forget)
        where = None if key is None else CHOSEN_ON[key]
        if where is not None and where[0] == scenario:
            out += [(m, s) for s in seeds if s in where[1]]
    return out


def check_held_out(scenario: str, methods: Sequence[str], seeds: Sequence[int],
                   forget: str | None = None) -> None:
    """Refuse a benchmark table that would report a seed a preset in it was chosen on."""
    bad = tuned_on(scenario, methods, seeds, forget)
    if bad:
        pairs = ", ".join(f"{m} (seed {s})" for m, s in bad[:8])
        more = f" and {len(bad) - 8} more" if len(bad) > 8 else ""
        raise ObliviateError(
            f"{scenario}: {len(bad)} method/seed pairs would be reported on seeds their preset "
            f"was chosen on: {pairs}{more}. Choose those presets on other seeds "
            f"(benchmarks/sweep.py, then presets.CHOSEN_ON) or report other seeds")
