"""The language-model evaluation suite (METRICS.md: TOFU, MUSE, membership inference).

Per model: one teacher-forced pass over every scored sequence (answers, paraphrases,
perturbed answers, biographies), one greedy decode per question and per biography prefix,
and one backward per biography for GradNorm. Every metric is a pure function of those.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
from torch import nn
from tqdm.auto import tqdm

from obliviate.metrics import lm_mia as mia
from obliviate.metrics.lm_inputs import TokenScores
from obliviate.metrics.memorization import (
    answer_tokens,
    exact_memorization,
    extraction_strength,
)
from obliviate.metrics.muse import UndefinedMetric, knowmem, privleak, verbmem
from obliviate.metrics.registry import METRICS
from obliviate.metrics.rouge import rouge_l, rouge_tokens
from obliviate.metrics.tofu import (
    answer_probability,
    forget_quality,
    model_utility,
    normalised_probability,
    truth_ratio,
    truth_ratio_forget_score,
    truth_ratio_utility_score,
)
from obliviate.passes import count_passes
from obliviate.storage import sidecar as sc
from obliviate.tasks.causal_lm.encoding import encode_qa, encode_text, prompt_ids, to_split
from obliviate.tasks.causal_lm.features import block_arrays, question_arrays
from obliviate.tasks.causal_lm.people import Fact
from obliviate.tasks.causal_lm.probe import grad_norms, greedy, score
from obliviate.tasks.causal_lm.scenario import PeopleData

ROLES = ("original", "unlearned", "oracle")
SETS = ("forget", "retain", "general")
MAX_ANSWER_TOKENS = 12


def _no_tick() -> None:
    pass


class _Probe:
    """Everything one model produced on the evaluation data (and what it cost)."""

    STAGES = 5  # score answers, score biographies, answer, continue biographies, GradNorm

    def __init__(self, model: nn.Module, data: PeopleData,
                 tick: Callable[[], None] = _no_tick) -> None:
        tok, task = data.tokenizer, data.task
        self.facts = {s: data.facts(s) for s in SETS}
        seqs: list[tuple[list[int], list[int]]] = []
        self.index: dict[tuple[str, int], int] = {}
        for s, facts in self.facts.items():
            for j, f in enumerate(facts):
                q = f.questions[0]
                self.index[s, j] = len(seqs)
                seqs += [encode_qa(tok, q, a) for a in
                         (f.answer, f.paraphrased_answer, *f.perturbed_answers)]
        qa_split = to_split("eval-qa", seqs, range(len(seqs)), task.pad_id)
        self.bios = {w: [p.bio for p in data.people[w]] for w in ("forget", "holdout")}
        bio_enc = [encode_text(tok, b) for w in ("forget", "holdout") for b in self.bios[w]]
        bio_split = to_split("eval-bios", bio_enc, range(len(bio_enc)), task.pad_id)
        prompts = [prompt_ids(tok, f.questions[0]) for s in SETS for f in self.facts[s]]
        # VerbMem: the first half of each forget biography, continued for the rest's length.
        halves = [(ids[:len(ids) // 2], ids[len(ids) // 2:-1]) for ids, _ in
                  (encode_text(tok, b) for b in self.bios["forget"])]
        with count_passes(model) as passes:
            self.scores = score(model, task, qa_split)
            tick()
            bio_scores = score(model, task, bio_split)
            tick()
            answers = greedy(model, prompts, MAX_ANSWER_TOKENS, pad_id=task.pad_id,
                             eos_id=task.eos_id)
            tick()
            # One biography at a time: nothing idles, so one round (rounds would re-read
            # the prefix for nothing).
            conts = [greedy(model, [p], len(rest), pad_id=task.pad_id, eos_id=task.eos_id,
                            rounds_of=max(1, len(rest)))[0] for p, rest in halves]
            tick()
            norms = grad_norms(model, task, bio_split)
            tick()
        n_f = len(self.bios["forget"])
        self.bio_scores = {"forget": bio_scores[:n_f], "holdout": bio_scores[n_f:]}
        self.norms = {"forget": norms[:n_f], "holdout": norms[n_f:]}
        decoded = [_text(tok.decode(a, skip_special_tokens=True)) for a in answers]
        self.answers: dict[str, list[str]] = {}
        k = 0
        for s in SETS:
            self.answers[s] = decoded[k:k + len(self.facts[s])]
            k += len(self.facts[s])
        self.verb = ([_text(tok.decode(c, skip_special_tokens=True)) for c in conts],
                     [_text(tok.decode(r, skip_special_tokens=True)) for _, r in halves])
        # The passes this evaluation needs at the least: one per scored sequence, one per
        # generated token, one forward per GradNorm sample.
        generated = sum(max(1, len(a) + 1) for a in answers) + sum(
            min(len(r), len(c) + 1) for (_, r), c in zip(halves, conts, strict=True))
        self.needed = len(qa_split) + len(bio_split) + generated + len(bio_split)
        self.forward = passes.forward

    def fact_scores(self, s: str, j: int) -> tuple[TokenScores, TokenScores, list[TokenScores]]:
        i, k = self.index[s, j], len(self.facts[s][j].perturbed_answers)
        return self.scores[i], self.scores[i + 1], self.scores[i + 2:i + 2 + k]

    def ratios(self, s: str) -> np.ndarray:
        return np.array([truth_ratio(par, pert) for par, pert in
                         (self.fact_scores(s, j)[1:] for j in range(len(self.facts[s])))])


def _text(decoded: object) -> str:
    if not isinstance(decoded, str):
        raise TypeError(f"tokenizer.decode returned {type(decoded).__name__}, not str")
    return decoded


# Per model object: a hand-made model that shares a cache key with a trained one (as tests
# build) must never be answered with the trained one's probe.
_REFERENCE_PROBES: weakref.WeakKeyDictionary[nn.Module, dict[tuple[object, ...], _Probe]] = (
    weakref.WeakKeyDictionary())


def _cached_probe(role: str, model: nn.Module, data: PeopleData,
                  tick: Callable[[], None] = _no_tick) -> _Probe:
    """The original and the oracle are fixed by their cache key, so a demo or benchmark that
    runs many methods against one pair probes them once; an unlearned model, every time."""
    if role not in ("original", "oracle"):
        return _Probe(model, data, tick)
    key = (role, data.model_key(role), data.forget_ids, data.seed, data.eval_people)
    probes = _REFERENCE_PROBES.setdefault(model, {})
    if key not in probes:
        probes[key] = _Probe(model, data, tick)
    return probes[key]


def _probe_all(models: dict[str, nn.Module], data: PeopleData, progress: bool,
               ) -> dict[str, _Probe]:
    """Every model's probe, under one bar over (model, stage)."""
    bar = tqdm(total=len(models) * _Probe.STAGES, desc="evaluate", unit="stage",
               disable=not progress, leave=False)
    probes = {}
    for r, m in models.items():
        bar.set_postfix(model=r)
        done = bar.n + _Probe.STAGES
        probes[r] = _cached_probe(r, m, data, lambda: bar.update(1))
        bar.update(done - bar.n)  # a probe from the cache ran no stage
    bar.close()
    return probes


def _exact(pred: str, ref: str) -> float:
    return float(rouge_tokens(pred) == rouge_tokens(ref))


def _set_stats(p: _Probe, s: str) -> dict[str, np.ndarray]:
    facts: list[Fact] = p.facts[s]
    if s == "general":  # TOFU normalises utility-set probabilities over the options
        prob = [normalised_probability(*_options(p, s, j)) for j in range(len(facts))]
    else:
        prob = [answer_probability(p.fact_scores(s, j)[0]) for j in range(len(facts))]
    return {"prob": np.array(prob),
            "rouge": np.array([rouge_l(a, f.answer, stem=True).recall
                               for a, f in zip(p.answers[s], facts, strict=True)]),
            "exact": np.array([_exact(a, f.answer)
                               for a, f in zip(p.answers[s], facts, strict=True)]),
            "ratio": p.ratios(s)}


def _options(p: _Probe, s: str, j: int) -> tuple[TokenScores, list[TokenScores]]:
    """The paraphrase against its perturbations: both are full sentences, so the options are
    of one form (our short answers and long perturbed sentences would not be)."""
    _, par, pert = p.fact_scores(s, j)
    return par, pert


def evaluate_lm(models: dict[str, nn.Module], data: PeopleData, *, seed: int,
                arrays_out: dict[str, np.ndarray] | None = None, progress: bool = False,
                ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics, extra): every metric for every role, the evaluation's pass accounting and
    a few example answers. ``arrays_out``, when given, receives the feature sidecar's arrays
    (``obliviate.storage.sidecar``), taken from this evaluation rather than computed again."""
    del seed  # the evaluation is deterministic: greedy decoding, no sampling
    probes = _probe_all(models, data, progress)
    stats = {r: {s: _set_stats(p, s) for s in SETS} for r, p in probes.items()}
    if arrays_out is not None:
        arrays_out.update(_sidecar_arrays(probes, stats))
        # The dashboard's per-question views (lm_features): answers and exact match as scored.
        arrays_out.update(question_arrays(data, {r: p.answers["forget"] for r, p in probes.items()},
                                          {r: st["forget"]["exact"] for r, st in stats.items()}))
        arrays_out.update(block_arrays(models, data))
    oracle_ratios = stats["oracle"]["forget"]["ratio"]
    metrics: dict[str, Any] = {}

    def put(name: str, values: dict[str, Any],
            per_sample: dict[str, np.ndarray] | None = None) -> None:
        info = METRICS[name]  # unit and direction have one home: the registry
        metrics[name] = {"unit": info.unit, "higher_is_better": info.higher_is_better, **values,
                         "per_sample": {r: [float(f"{x:.6g}") for x in v]
                                        for r, v in (per_sample or {}).items()}}

    fq = {r: forget_quality(st["forget"]["ratio"], oracle_ratios)[0] for r, st in stats.items()}
    put("Forget quality", fq, {r: st["forget"]["ratio"] for r, st in stats.items()})
    comps = {r: {f"{s}.{k}": float(np.mean(v)) for s in ("retain", "general")
                 for k, v in (("prob", st[s]["prob"]), ("rouge", st[s]["rouge"]),
                              ("truth", truth_ratio_utility_score(st[s]["ratio"]).per_sample))}
             for r, st in stats.items()}
    put("Model utility", {r: model_utility(c) for r, c in comps.items()})
    for s, label in (("forget", "D_f"), ("retain", "D_r")):
        put(f"Exact match ({label})",
            {r: 100 * float(st[s]["exact"].mean()) for r, st in stats.items()},
            {r: st[s]["exact"] for r, st in stats.items()})
    put("Prob (D_f)", {r: float(st["forget"]["prob"].mean()) for r, st in stats.items()})
    put("ROUGE-L recall (D_f)", {r: float(st["forget"]["rouge"].mean())
                                 for r, st in stats.items()})
    put("Truth ratio (D_f)",
        {r: truth_ratio_forget_score(st["forget"]["ratio"]).value for r, st in stats.items()})
    put("VerbMem (D_f)", {r: verbmem(*p.verb).value for r, p in probes.items()})
    for s, label in (("forget", "D_f"), ("retain", "D_r")):
        put(f"KnowMem ({label})",
            {r: knowmem(p.answers[s], [f.answer for f in p.facts[s]]).value
             for r, p in probes.items()})
    aucs = {r: _mia_aucs(p, probes["oracle"] if r != "oracle" else None)
            for r, p in probes.items()}
    undefined: dict[str, str] = {}
    leak: dict[str, float | None]
    try:
        leak = {r: privleak(_auc(a, "Min-K% (40%)"), _auc(aucs["oracle"], "Min-K% (40%)"))
                for r, a in aucs.items()}
    except UndefinedMetric as e:  # e.g. a handful of holdout texts all below the forget ones
        leak, undefined["PrivLeak"] = dict.fromkeys(aucs), str(e)
    put("PrivLeak", leak)
    for attack in aucs["original"]:
        put(f"MIA AUC {attack}", {r: aucs[r].get(attack) for r in ROLES})
    # open-unlearning's convention: forget QA answers, without their EOS (memorization.py).
    answers = {r: [answer_tokens(p.fact_scores("forget", j)[0])
                   for j in range(len(p.facts["forget"]))] for r, p in probes.items()}
    for name, fn in (("Exact memorization (D_f)", exact_memorization),
                     ("Extraction strength (D_f)", extraction_strength)):
        vals = {r: np.array([fn(s) for s in answers[r]]) for r in probes}
        put(name, {r: float(v.mean()) for r, v in vals.items()}, vals)
    extra = {"forget_questions": len(oracle_ratios), "utility_components": comps,
             "undefined_metrics": undefined,
             "eval_passes": {r: {"forward": p.forward, "needed": p.needed,
                                 "ratio": p.forward / p.needed} for r, p in probes.items()},
             "examples": _examples(probes)}
    return metrics, extra


def _sidecar_arrays(probes: dict[str, _Probe], stats: dict[str, dict[str, dict[str, np.ndarray]]],
                    ) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for r, p in probes.items():
        out[sc.truth_ratio_key(r)] = stats[r]["forget"]["ratio"].astype(np.float32)
        out[sc.prob_key(r)] = stats[r]["forget"]["prob"].astype(np.float32)
        for w in ("forget", "holdout"):  # the Min-K% scores PrivLeak ranks
            out[sc.mia_key(r, w)] = np.array([mia.score_min_k(s, sc.MIN_K)
                                              for s in p.bio_scores[w]], dtype=np.float32)
    return out


def _examples(probes: dict[str, _Probe], n: int = 5) -> list[dict[str, str]]:
    """Up to ``n`` forget questions, spread over the forget set, with each model's answer."""
    first = next(iter(probes.values()))
    facts = first.facts["forget"]
    picks = sorted({int(i) for i in np.linspace(0, len(facts) - 1, min(n, len(facts)))})
    return [{"question": facts[j].questions[0], "answer": facts[j].answer,
             **{r: p.answers["forget"][j] for r, p in probes.items()}} for j in picks]


def _auc(aucs: dict[str, float | None], attack: str) -> float:
    value = aucs[attack]
    if value is None:
        raise ValueError(f"the {attack} attack produced no AUC")
    return value


def _mia_aucs(p: _Probe, ref: _Probe | None) -> dict[str, float | None]:
    """ROC-AUC of each attack at telling forget biographies (members) from holdout ones.

    The reference attack uses the oracle as the reference model (trained on everything but
    D_f), so it is undefined for the oracle itself: None, not a made-up 0.5.
    """
    f, h = p.bio_scores["forget"], p.bio_scores["holdout"]
    texts = p.bios
    out: dict[str, float | None] = {
        "LOSS": mia.mia_auc([mia.score_loss(s) for s in f], [mia.score_loss(s) for s in h]),
        "ZLib": mia.mia_auc([mia.score_zlib(s, t) for s, t in zip(f, texts["forget"],
                                                                   strict=True)],
                            [mia.score_zlib(s, t) for s, t in zip(h, texts["holdout"],
                                                                   strict=True)]),
        "Min-K% (20%)": mia.mia_auc([mia.score_min_k(s) for s in f],
                                    [mia.score_min_k(s) for s in h]),
        "Min-K% (40%)": mia.mia_auc([mia.score_min_k(s, 0.4) for s in f],
                                    [mia.score_min_k(s, 0.4) for s in h]),
        "Min-K%++ (20%)": mia.mia_auc([mia.score_min_k_plus_plus(s) for s in f],
                                      [mia.score_min_k_plus_plus(s) for s in h]),
        "GradNorm": mia.mia_auc([mia.score_gradnorm(g) for g in p.norms["forget"]],
                                [mia.score_gradnorm(g) for g in p.norms["holdout"]]),
        "Reference": None,
    }
    if ref is not None:
        rf, rh = ref.bio_scores["forget"], ref.bio_scores["holdout"]
        out["Reference"] = mia.mia_auc(
            [mia.score_reference(s, r) for s, r in zip(f, rf, strict=True)],
            [mia.score_reference(s, r) for s, r in zip(h, rh, strict=True)])
    return out
