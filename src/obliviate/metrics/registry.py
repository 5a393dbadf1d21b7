"""Every number obliviate prints, for every kind of model: unit, direction, headline, and how
it departs from its reference (METRICS.md). ``obliviate list``, the tables, the store and the
evaluation suites read this table instead of spelling units and directions themselves.

No torch here: the dashboard and the report import it.
"""

from __future__ import annotations

from dataclasses import dataclass

from obliviate.errors import ObliviateError


@dataclass(frozen=True)
class MetricInfo:
    """How to read a metric.

    ``headline`` marks the one number a kind ranks runs by (Avg. Gap for classifiers, forget
    quality for language models). ``oracle_is_target`` marks metrics whose ideal is the
    oracle's value rather than an extreme (METRICS.md: MIA-Efficacy is "low for random
    forgetting, near 100 for class forgetting"); ``higher_is_better`` then states the naive
    direction only. ``departures`` lists, in words, every way the computation differs from
    ``reference`` on purpose; each is written in the function's docstring and tested.
    """

    name: str
    description: str
    unit: str
    higher_is_better: bool
    kinds: tuple[str, ...]
    reference: str
    headline: bool = False
    oracle_is_target: bool = False
    departures: tuple[str, ...] = ()


CLS = ("classification",)
LM = ("lm",)
REG = ("regression",)
GRAPH = ("graph",)
REC = ("recommendation",)
_SALUN = "SalUn / Unlearn-Sparse result tables (Fan et al. 2024; Jia et al. 2023)"
_TOFU = "locuslab/tofu evaluate_util.py, aggregate_eval_stat.py"
_MUSE = "swj0419/muse_bench eval.py, metrics/*.py"
_OU = "locuslab/open-unlearning src/evals/metrics"
_DRU = "Tarun et al. 2023, ayushkumartarun/deep-regression-unlearning"


def _m(name: str, description: str, unit: str, higher: bool, kinds: tuple[str, ...],
       reference: str, **kw: object) -> tuple[str, MetricInfo]:
    return name, MetricInfo(name, description, unit, higher, kinds, reference, **kw)  # type: ignore[arg-type]


_GU = "GNNDelete (Cheng et al. 2023) / D2DGN (Sinha et al. 2023) node-unlearning evaluations"
_GRAPH_METRICS = [
    _m("Forget acc", "accuracy on the forget nodes (deleted nodes, nodes whose features were "
       "deleted, or the training endpoints of deleted edges), queried on the training graph",
       "%", False, GRAPH, _GU, oracle_is_target=True),
    _m("Retain acc", "accuracy on the retained training nodes, on the retained graph", "%",
       True, GRAPH, _GU),
    _m("Test acc", "accuracy on the test nodes, on the retained graph", "%", True, GRAPH, _GU),
    _m("Link AUC", "link stealing (He et al. 2021, Attack-0, correlation distance of "
       "posteriors): ROC-AUC telling the deleted edges from as many never-linked node pairs, "
       "on the retained edges; none for a feature request", "%", False, GRAPH,
       "He et al. 2021, USENIX Security (Stealing Links from Graph Neural Networks)",
       oracle_is_target=True,
       departures=("a constant posterior is at correlation distance 1 (scipy: NaN)",
                   "as many never-linked pairs as deleted edges, drawn once per run seed")),
    _m("Graph gap", "mean |model - oracle| over Forget acc, Retain acc, Test acc and Link AUC "
       "(the three accuracies for a feature request)", "pp", False, GRAPH,
       "(ours: Avg. Gap's rule, SalUn, over the graph metrics)", headline=True),
]

# Display order: the SalUn tables' order, then TOFU's, then MUSE's, then memorization.
METRICS: dict[str, MetricInfo] = dict([
    _m("UA", "unlearning accuracy: 100 - accuracy on the forget set D_f", "%", True, CLS,
       _SALUN, oracle_is_target=True),
    _m("RA", "remaining accuracy: accuracy on the retain set D_r", "%", True, CLS, _SALUN),
    _m("TA", "testing accuracy: accuracy on the test set D_t", "%", True, CLS, _SALUN),
    _m("MIA-Eff", "MIA-Efficacy: % of D_f a confidence-based SVM attack (members D_r, "
       "non-members D_t) calls non-members", "%", True, CLS,
       "OPTML-Group/Unlearn-Sparse evaluation/SVC_MIA (RBF SVC, C=3, confidence feature)",
       oracle_is_target=True),
    _m("Avg.Gap", "mean |unlearned - oracle| over UA, RA, TA, MIA-Eff", "pp", False, CLS,
       _SALUN, headline=True),
    _m("JS(D_f)", "mean Jensen-Shannon divergence to the oracle's softmax outputs on D_f",
       "nats", False, CLS, "scipy.spatial.distance.jensenshannon(base e) squared",
       departures=("computed in log space so saturated logits (gaps of hundreds) stay "
                   "finite and <= ln 2",)),
    _m("JS(D_t)", "mean Jensen-Shannon divergence to the oracle's softmax outputs on D_t",
       "nats", False, CLS, "scipy.spatial.distance.jensenshannon(base e) squared",
       departures=("computed in log space so saturated logits (gaps of hundreds) stay "
                   "finite and <= ln 2",)),
    _m("RTE", "run time of the unlearning call (wall seconds)", "s", False,
       ("classification", "lm", "regression", "graph", "recommendation"),
       "Jia et al. 2023 (run-time efficiency)"),
    # -- language models: TOFU (Maini et al. 2024) --
    _m("Forget quality", "p-value of the KS test between the forget questions' truth ratios "
       "under the unlearned model and under the oracle (>= 0.05: indistinguishable)", "p",
       True, LM, _TOFU, headline=True,
       departures=("the oracle is the run's own retrained model, never stored numbers",)),
    _m("Model utility", "harmonic mean of answer probability, ROUGE-L recall (Porter-stemmed) "
       "and truth-ratio score on the retain people and the general facts", "harmonic mean",
       True, LM, _TOFU,
       departures=("six components (retain, general facts), not TOFU's nine: there is no "
                   "separate real-authors set",)),
    _m("Exact match (D_f)", "% of forget questions whose greedy answer equals the true one "
       "(word tokens, case and punctuation ignored)", "%", False, LM, "(ours: exact-match QA)",
       oracle_is_target=True),
    _m("Exact match (D_r)", "% of evaluated retain questions answered exactly", "%", True, LM,
       "(ours: exact-match QA)"),
    _m("Prob (D_f)", "mean length-normalised probability P(a|q)^(1/|a|) of the true forget "
       "answers", "p", False, LM, _TOFU, oracle_is_target=True),
    _m("ROUGE-L recall (D_f)", "mean ROUGE-L recall (Porter-stemmed, as TOFU) of the greedy "
       "answers to the forget questions", "recall", False, LM,
       _TOFU + " (rouge_score, use_stemmer=True)", oracle_is_target=True),
    _m("Truth ratio (D_f)", "mean of min(R, 1/R) over the forget questions, R = P(wrong "
       "answers) / P(paraphrased true answer): 1 = cannot tell right from wrong",
       "min(R, 1/R)", True, LM, _TOFU, oracle_is_target=True),
    # -- language models: MUSE (Shi et al. 2024) --
    _m("VerbMem (D_f)", "ROUGE-L F1 (no stemming, as MUSE) of the greedy continuation of "
       "each forget biography's first half against its second half", "%", False, LM, _MUSE,
       oracle_is_target=True,
       departures=("continuations as long as the true second half, not MUSE's 128 tokens "
                   "(our biographies are shorter)",)),
    _m("KnowMem (D_f)", "ROUGE-L F1 (no stemming) of the answers to forget questions", "%",
       False, LM, _MUSE, oracle_is_target=True,
       departures=("zero-shot prompts: no few-shot QA examples in context",)),
    _m("KnowMem (D_r)", "ROUGE-L F1 (no stemming) of the answers to retain questions", "%",
       True, LM, _MUSE, departures=("zero-shot prompts: no few-shot QA examples in context",)),
    _m("PrivLeak", "MUSE's PrivLeak: (AUC_u - AUC_r) / AUC_r x 100 of the Min-40% attack "
       "(forget vs holdout biographies) in MUSE's orientation; 0 ideal, about -100 = still "
       "leaking membership (under-unlearned), large positive = over-unlearned", "%", False, LM,
       _MUSE + " (key forget_holdout_Min-40%)", oracle_is_target=True,
       departures=("AUC_r is the run's own oracle, never MUSE's stored AUC_RETRAIN",
                   "Min-K% keeps at least one token (max(1, int(n k)); MUSE's int(n k) can "
                   "average an empty slice)")),
    *(_m(f"MIA AUC {attack}", f"ROC-AUC of the {attack} membership attack at telling forget "
         f"biographies (members) from holdout ones; 0.5 = chance", "auc", False, LM,
         _OU + "/mia", oracle_is_target=True, departures=extra)
      for attack, extra in (
          ("LOSS", ()), ("ZLib", ()), ("Min-K% (20%)", ()), ("Min-K% (40%)", ()),
          ("Min-K%++ (20%)", ("sigma floored at 1e-3 (variance 1e-6), as open-unlearning",)),
          ("GradNorm", ()),
          ("Reference", ("the reference model is the run's oracle; undefined (None) for the "
                         "oracle itself",)))),
    # -- language models: memorization (open-unlearning) --
    _m("Exact memorization (D_f)", "mean share of forget-answer tokens (EOS excluded) whose "
       "teacher-forced argmax is the true token", "share", False, LM,
       _OU + "/memorization.py (exact_memorization)", oracle_is_target=True),
    _m("Extraction strength (D_f)", "mean 1 - k*/|a| over forget answers (EOS excluded), k* "
       "the shortest answer prefix from which greedy decoding reproduces the rest", "share",
       False, LM, _OU + "/memorization.py (extraction_strength)", oracle_is_target=True,
       departures=("reaches 0 when no prefix reproduces the rest; open-unlearning's loop "
                   "floors at 1/|a| there",)),
    # -- regression (Tarun et al. 2023's adaptations of the classifier metrics) --
    *(_m(f"{m} ({s})", f"{what} on the {name} set {s}", unit, False, REG, _DRU,
         oracle_is_target=s == "D_f")
      for m, what, unit in (("MSE", "mean squared error", "y²"),
                            ("MAE", "mean absolute error", "y"))
      for s, name in (("D_f", "forget"), ("D_r", "retain"), ("D_t", "test"))),
    *(_m(f"nMAE ({s})", f"MAE on the {name} set {s} in % of the training targets' standard "
         "deviation (the gap's unit)", "%", False, REG, _DRU,
         oracle_is_target=s == "D_f")
      for s, name in (("D_f", "forget"), ("D_r", "retain"), ("D_t", "test"))),
    *(_m(f"R² ({s})", f"coefficient of determination on the {name} set {s} (its own "
         "variance, as sklearn.metrics.r2_score; undefined for constant targets)", "R²", True,
         REG, "sklearn.metrics.r2_score", oracle_is_target=s == "D_f")
      for s, name in (("D_f", "forget"), ("D_r", "retain"), ("D_t", "test"))),
    _m("MIA-Eff (loss)", "MIA-Efficacy on the loss: % of D_f a loss-threshold attack "
       "(members D_r, non-members D_t) calls non-members", "%", True, REG,
       _DRU + " metrics.py get_membership_attack_prob (attack on each sample's loss)",
       oracle_is_target=True,
       departures=("Yeom et al.'s loss threshold (the best TPR - FPR) instead of an RBF SVM, "
                   "which calls losses beyond its fitting range members by its bias",
                   "members are |D_t| samples of D_r and the non-member share of D_f is "
                   "reported (MIA-Efficacy), not the member share over a sample of all "
                   "training data")),
    *(_m(f"W1 ({s})", f"Wasserstein distance between the model's and the oracle's "
         f"predictions on {s} (target units)", "y", False, REG,
         _DRU + " notebooks (scipy.stats.wasserstein_distance)")
      for s in ("D_f", "D_t")),
    _m("Gap", "gap to the oracle: mean |unlearned - oracle| over nMAE on D_f, D_r, D_t and "
       "MIA-Eff (loss), all in points", "pp", False, REG,
       "(ours: the regression form of SalUn's Avg. Gap)", headline=True),
    # -- recommenders: ranking metrics on implicit feedback (metrics/recommendation.py) --
    *(_m(f"{what}@{k}", f"{text} over the retained users' held-out interactions (known "
         "items filtered, retained users and items only)", "%", True, REC, ref)
      for what, text, ref in (
          ("Recall", "mean per user of |held-out items in the top K| / |held-out items|",
           "LightGCN / MMRec (enoche/MMRec utils/metrics.py recall_)"),
          ("NDCG", "mean per user of DCG@K / IDCG@K, binary relevance, log2(rank + 1) discounts",
           "MMRec (enoche/MMRec utils/metrics.py ndcg_); sklearn.metrics.ndcg_score"))
      for k in (10, 20)),
    _m("Forget rank", "mean percentile rank of the forgotten interactions in their users' "
       "lists (0 = top, 100 = bottom; known items filtered)", "%", True, REC,
       "(ours: the rank of forgotten interactions, normalised by the list length)",
       oracle_is_target=True),
    _m("Hit@20 (D_f)", "% of forgotten interactions still in their user's top 20", "%", False,
       REC, "(ours: HR@20 on the forget set)", oracle_is_target=True),
    _m("MIA-Eff (interactions)", "MIA-Efficacy on interactions: % of forgotten interactions an "
       "RBF-SVM attack on the log-probability of the item (softmax over all items; members: "
       "retained training interactions, non-members: held-out ones) calls non-members", "%",
       True, REC,
       "OPTML-Group/Unlearn-Sparse evaluation/SVC_MIA (RBF SVC, C=3, confidence feature)",
       oracle_is_target=True,
       departures=("the feature is the log of the item's softmax probability over all items "
                   "(probabilities of ~1e-3 all look alike to an RBF kernel of width 1), not "
                   "a class probability",)),
    _m("Rec.Gap", "mean |unlearned - oracle| over Recall@20, NDCG@20, Forget rank and MIA-Eff "
       "(interactions)", "pp", False, REC, "(ours: SalUn's Avg. Gap over ranking metrics)",
       headline=True),
    # -- shadow-model attacks (obliviate run --attack shadow), classifiers --
    _m("challenge forgetting quality F", "NeurIPS 2023 unlearning challenge: mean over D_f "
       "of 2^-floor(eps/0.5) from K unlearned vs K retrained models", "score", True, CLS,
       "google-deepmind/unlearning_evaluation metric.py",
       departures=("rates in float64 (the reference: float32 means)",
                   "a case where no threshold survives (both groups one constant) scores "
                   "epsilon 0 instead of failing the reference's assert")),
    _m("strict forgetting quality F", "our stricter variant of the challenge's F: every cut "
       "between confidences, both directions, no peaky shortcut, bins to epsilon 7", "score",
       True, CLS, "(ours: a variant of the challenge's metric.py, not the challenge's number)"),
    _m("U-LiRA accuracy", "per forget example, accuracy of a likelihood-ratio attack telling "
       "K unlearned from K retrained models (ideal 50)", "%", False, CLS,
       "Hayes et al. 2024 (U-LiRA)",
       departures=("leave-one-pair-out Gaussian fits on K models per group, not hundreds",)),
    # -- graphs: node classification with a GCN (tasks/graph/evaluation.py) --
    *_GRAPH_METRICS,
])


def get_metric(name: str) -> MetricInfo:
    """The registered metric called ``name``; an unknown name lists the valid ones."""
    try:
        return METRICS[name]
    except KeyError:
        raise ObliviateError(
            f"unknown metric {name!r}; valid metrics: {', '.join(METRICS)}") from None


def headline(kind: str) -> MetricInfo:
    """The metric a kind ranks runs by."""
    found = [m for m in METRICS.values() if m.headline and kind in m.kinds]
    if len(found) != 1:
        raise ObliviateError(f"kind {kind!r} has {len(found)} headline metrics; expected one")
    return found[0]
