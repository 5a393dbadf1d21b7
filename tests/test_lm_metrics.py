"""Language-model metrics (TOFU, MUSE, LM membership inference, memorization) against values
worked out by hand, scipy/sklearn directly, and a brute-force greedy decoder."""

from __future__ import annotations

import math
import random
import zlib

import numpy as np
import pytest
from rouge_score import rouge_scorer
from scipy.stats import ks_2samp

from obliviate.metrics.lm_inputs import TokenScores
from obliviate.metrics.lm_mia import (
    mia_auc,
    score_gradnorm,
    score_loss,
    score_min_k,
    score_min_k_plus_plus,
    score_reference,
    score_zlib,
)
from obliviate.metrics.memorization import answer_tokens, exact_memorization, extraction_strength
from obliviate.metrics.muse import knowmem, privleak, verbmem
from obliviate.metrics.tofu import (
    answer_probability,
    forget_quality,
    model_utility,
    normalised_probability,
    truth_ratio,
    truth_ratio_forget_score,
    truth_ratio_utility_score,
)


def ts(logprobs: list[float], correct: list[bool] | None = None, mu: list[float] | None = None,
       sigma: list[float] | None = None) -> TokenScores:
    n = len(logprobs)
    return TokenScores(
        logprobs=np.array(logprobs, dtype=float),
        mu=np.array(mu if mu is not None else [-1.0] * n, dtype=float),
        sigma=np.array(sigma if sigma is not None else [1.0] * n, dtype=float),
        argmax_correct=np.array(correct if correct is not None else [True] * n, dtype=bool),
    )


# --- TokenScores -------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"logprobs": []}, "empty"),
    ({"logprobs": [-1.0, float("nan")]}, "non-finite"),
    ({"logprobs": [-1.0, -float("inf")]}, "non-finite"),
    ({"logprobs": [0.5, -1.0]}, "<= 0"),
    ({"mu": [-1.0]}, "same length"),
    ({"mu": [0.3, -1.0]}, "mu"),
    ({"sigma": [-0.1, 1.0]}, "sigma"),
    ({"argmax_correct": [0.0, 1.0]}, "bool"),
    ({"argmax_correct": [2, 1]}, "bool"),
    ({"logprobs": [[-1.0, -2.0]]}, "1-D"),
])
def test_token_scores_rejects_bad_input(kwargs: dict, match: str) -> None:
    fields = {"logprobs": [-1.0, -2.0], "mu": [-1.0, -1.0], "sigma": [1.0, 1.0],
              "argmax_correct": [True, False]}
    fields.update(kwargs)
    with pytest.raises(ValueError, match=match):
        TokenScores(**{k: np.array(v) for k, v in fields.items()})


def test_token_scores_copies_and_freezes() -> None:
    """Inputs are copied (a later edit by the caller changes nothing) and read-only; 0/1
    integers are accepted for argmax_correct."""
    lp = np.array([-1.0, -3.0])
    s = TokenScores(logprobs=lp, mu=np.zeros(2), sigma=np.ones(2),
                    argmax_correct=np.array([1, 0]))
    lp[0] = -100.0
    assert s.mean_logprob == -2.0 and s.n_tokens == 2
    assert s.argmax_correct.dtype == bool and list(s.argmax_correct) == [True, False]
    with pytest.raises(ValueError):
        s.logprobs[0] = 0.0


# --- TOFU --------------------------------------------------------------------------------


def test_answer_probability() -> None:
    """logprobs [-1, -3]: mean -2, so P(a|q)^(1/|a|) = exp(-2)."""
    assert answer_probability(ts([-1.0, -3.0])) == pytest.approx(math.exp(-2))


def test_normalised_probability() -> None:
    """True answer mean log-prob -1, options -2 ([-2, -2]) and -3 ([-3]):
    e^-1 / (e^-1 + e^-2 + e^-3) = 1 / (1 + e^-1 + e^-2) ~ 0.6652; TOFU's formula gives the same."""
    true, options = ts([-1.0]), [ts([-2.0, -2.0]), ts([-3.0])]
    expected = 1 / (1 + math.exp(-1) + math.exp(-2))
    assert normalised_probability(true, options) == pytest.approx(expected)
    tofu = math.exp(-1) / np.array([math.exp(-1), math.exp(-2), math.exp(-3)]).sum()
    assert normalised_probability(true, options) == pytest.approx(tofu)


def test_normalised_probability_long_answers_do_not_underflow() -> None:
    """Mean log-probs -800 and -801 (exp underflows to 0 in float64): 1 / (1 + e^-1)."""
    got = normalised_probability(ts([-800.0]), [ts([-801.0])])
    assert got == pytest.approx(1 / (1 + math.exp(-1)))


def test_truth_ratio() -> None:
    """Paraphrase mean log-prob -1 ([-1, -1]); perturbed means -2 ([-2]) and -4 ([-4, -4]):
    geometric mean of e^-2, e^-4 is e^-3, so R = e^-3 / e^-1 = e^-2."""
    r = truth_ratio(ts([-1.0, -1.0]), [ts([-2.0]), ts([-4.0, -4.0])])
    assert r == pytest.approx(math.exp(-2))
    assert truth_ratio(ts([-1.0, -1.0]), [ts([-4.0, -4.0]), ts([-2.0])]) == pytest.approx(r)


def test_options_required() -> None:
    with pytest.raises(ValueError, match="at least one perturbed"):
        truth_ratio(ts([-1.0]), [])
    with pytest.raises(ValueError, match="at least one perturbed"):
        normalised_probability(ts([-1.0]), [])


def test_truth_ratio_scores() -> None:
    """Forget: R = [0.5, 2, 1] -> min(R, 1/R) = [0.5, 0.5, 1], mean 2/3.
    Utility: R = [0.25, 2, 1] -> max(0, 1 - R) = [0.75, 0, 0], mean 0.25."""
    f = truth_ratio_forget_score([0.5, 2.0, 1.0])
    np.testing.assert_allclose(f.per_sample, [0.5, 0.5, 1.0])
    assert f.value == pytest.approx(2 / 3)
    u = truth_ratio_utility_score(np.array([0.25, 2.0, 1.0]))
    np.testing.assert_allclose(u.per_sample, [0.75, 0.0, 0.0])
    assert u.value == pytest.approx(0.25)


@pytest.mark.parametrize("bad", [[], [0.5, -0.0001], [-1.0], [float("nan")], [[0.5]]])
def test_truth_ratio_scores_reject(bad: list) -> None:
    for fn in (truth_ratio_forget_score, truth_ratio_utility_score):
        with pytest.raises(ValueError):
            fn(bad)


def test_saturated_truth_ratios_take_their_limits() -> None:
    """An over-unlearned model puts log R past exp's range: paraphrase mean log-prob -1,
    perturbed -800 gives log R = -799, so R underflows to 0 exactly as TOFU's np.exp does; the
    reverse (-800 vs -1) overflows to inf. Limits: min(R, 1/R) = 0 for both; max(0, 1 - R) = 1
    for R = 0 and 0 for R = inf. The KS test only ranks, so its p-value equals scipy's on the
    log ratios, which stay finite (measured crash before: NegGrad+ on people-small seed 3)."""
    r = np.array([truth_ratio(ts([-1.0]), [ts([-800.0])]),
                  truth_ratio(ts([-800.0]), [ts([-1.0])]), 0.5, 2.0])
    assert r[0] == 0.0 and r[1] == math.inf
    np.testing.assert_array_equal(truth_ratio_forget_score(r).per_sample, [0.0, 0.0, 0.5, 0.5])
    np.testing.assert_array_equal(truth_ratio_utility_score(r).per_sample, [1.0, 0.0, 0.5, 0.0])
    log_u = np.array([-799.0, 799.0, math.log(0.5), math.log(2.0), 0.1, -0.2])
    log_o = np.array([0.3, -0.4, 0.2, 0.05, -0.1, 0.6])
    with np.errstate(over="ignore"):
        p, n = forget_quality(np.exp(log_u), np.exp(log_o))
    assert n == 6 and p == ks_2samp(log_u, log_o).pvalue


def test_forget_quality_is_scipy_ks_pvalue() -> None:
    """Same p-value as scipy.stats.ks_2samp; TOFU's code tests 1/R, which must not matter
    (the KS statistic only sees ranks, and 1/x is strictly monotone on x > 0)."""
    rng = np.random.default_rng(0)
    u, o = rng.lognormal(0.0, 1.0, 40), rng.lognormal(0.3, 1.0, 40)
    p, n = forget_quality(u, o)
    assert n == 40
    assert p == ks_2samp(u, o).pvalue
    assert p == pytest.approx(ks_2samp(1 / u, 1 / o).pvalue, rel=1e-12)
    assert forget_quality(u, u) == (1.0, 40)


@pytest.mark.parametrize("oracle", [None, [], np.array([])])
def test_forget_quality_needs_oracle(oracle: list[float] | np.ndarray | None) -> None:
    with pytest.raises(ValueError, match="forget quality needs the oracle's truth ratios"):
        forget_quality([0.5, 1.0], oracle)


def test_forget_quality_rejects_bad_ratios() -> None:
    with pytest.raises(ValueError, match="same forget questions"):
        forget_quality([0.5, 1.0], [0.5])
    with pytest.raises(ValueError, match="NaN or negative"):
        forget_quality([0.5, float("nan")], [0.5, 1.0])
    with pytest.raises(ValueError, match="empty"):
        forget_quality([], [0.5])


def test_model_utility() -> None:
    """hmean(0.5, 0.25, 1) = 3 / (2 + 4 + 1) = 3/7; any component 0 -> 0 (no warning)."""
    assert model_utility({"p": 0.5, "r": 0.25, "t": 1.0}) == pytest.approx(3 / 7)
    assert model_utility({"p": 0.5, "r": 0.0, "t": 1.0}) == 0.0
    assert model_utility({"only": 0.4}) == pytest.approx(0.4)


@pytest.mark.parametrize("bad", [{}, {"p": -0.1}, {"p": float("nan")}, {"p": float("inf")}])
def test_model_utility_rejects(bad: dict) -> None:
    with pytest.raises(ValueError, match="model_utility"):
        model_utility(bad)


# --- MUSE --------------------------------------------------------------------------------


def test_verbmem_and_knowmem() -> None:
    """"the cat sat" vs "the cat sat on the mat": LCS 3, P 1, R 1/2, F1 2/3; "" vs "x": 0.
    Value in percent: 100 * (2/3 + 0) / 2 = 33.33."""
    for fn in (verbmem, knowmem):
        m = fn(["the cat sat", ""], ["the cat sat on the mat", "x"])
        np.testing.assert_allclose(m.per_sample, [2 / 3, 0.0])
        assert m.value == pytest.approx(100 / 3)


def test_verbmem_uses_rouge_l_f1_like_muse() -> None:
    """MUSE: RougeScorer(use_stemmer=False).score(gt, output)["rougeL"].fmeasure, mean x 100."""
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    outs = ["Harry looked at the wand.", "It was raining in London", "nothing"]
    gts = ["Harry stared at the old wand", "It rained all day in London.", "The end"]
    expected = [scorer.score(g, o)["rougeL"].fmeasure for o, g in zip(outs, gts, strict=True)]
    m = verbmem(outs, gts)
    np.testing.assert_allclose(m.per_sample, expected)
    assert m.value == pytest.approx(100 * np.mean(expected))


def test_muse_rouge_rejects() -> None:
    with pytest.raises(ValueError, match="paired"):
        verbmem(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="no samples"):
        knowmem([], [])


def test_privleak_muse_convention_by_hand() -> None:
    """Our AUCs (D_f positive, higher = member) enter; MUSE's are 1 - ours.

    - untouched target, ours 1.0 (MUSE 0.0), oracle ours 0.5 (MUSE 0.5):
      (0 - 0.5) / 0.5 * 100 = -100 (under-unlearned, MUSE's targets score about -100).
    - over-unlearned, ours 0.2 (MUSE 0.8), oracle 0.5: (0.8 - 0.5) / 0.5 * 100 = +60.
    - ours 0.6 (MUSE 0.4), oracle ours 0.4 (MUSE 0.6): (0.4 - 0.6) / 0.6 * 100 = -33.33.
    - equal AUCs: 0.
    """
    assert privleak(1.0, 0.5) == pytest.approx(-100.0)
    assert privleak(0.2, 0.5) == pytest.approx(60.0)
    assert privleak(0.6, 0.4) == pytest.approx(-100 / 3)
    assert privleak(0.7, 0.7) == 0.0


def _muse_privleak(forget_u: list[TokenScores], holdout_u: list[TokenScores],
                   forget_r: list[TokenScores], holdout_r: list[TokenScores]) -> float:
    """muse_bench metrics/privleak.py re-derived: per text ``Min-40% = -mean(lowest
    int(n * 0.4) log-probs)``; AUC of ``roc_curve(y, -ppl)`` with forget labelled 0 and
    holdout 1; PrivLeak = (AUC_u - AUC_r) / AUC_r * 100 (eval.py)."""
    from sklearn.metrics import auc, roc_curve

    def min40(s: TokenScores) -> float:
        return float(-np.mean(np.sort(s.logprobs)[:int(len(s.logprobs) * 0.4)]))

    def their_auc(forget: list[TokenScores], holdout: list[TokenScores]) -> float:
        ppl = np.array([min40(s) for s in forget] + [min40(s) for s in holdout])
        y = np.array([0] * len(forget) + [1] * len(holdout))
        fpr, tpr, _ = roc_curve(y, -ppl)
        return float(auc(fpr, tpr))

    a_u, a_r = their_auc(forget_u, holdout_u), their_auc(forget_r, holdout_r)
    return (a_u - a_r) / a_r * 100


def test_privleak_equals_muse_bench_on_random_texts() -> None:
    """Our pipeline (score_min_k k=0.4 -> mia_auc -> privleak) against the re-derivation, on
    random texts of 5-40 tokens where the 'unlearned' model favours the forget texts by a
    random shift (positive or negative) and the 'oracle' does not."""
    rng = np.random.default_rng(7)
    for _ in range(30):
        def texts(n: int, shift: float) -> list[TokenScores]:
            return [ts(list(-rng.gamma(2.0, 1.0, rng.integers(5, 40)) + shift).copy())
                    for _ in range(n)]
        shift = float(rng.uniform(-1.0, 1.0))
        f_u = [TokenScores(np.minimum(s.logprobs + shift, 0), s.mu, s.sigma, s.argmax_correct)
               for s in texts(12, 0.0)]
        h_u, f_r, h_r = texts(9, 0.0), texts(12, 0.0), texts(9, 0.0)
        ours = privleak(mia_auc([score_min_k(s, 0.4) for s in f_u],
                                [score_min_k(s, 0.4) for s in h_u]),
                        mia_auc([score_min_k(s, 0.4) for s in f_r],
                                [score_min_k(s, 0.4) for s in h_r]))
        assert ours == pytest.approx(_muse_privleak(f_u, h_u, f_r, h_r), abs=1e-6)


@pytest.mark.parametrize("oracle", [None, float("nan")])
def test_privleak_needs_oracle(oracle: float | None) -> None:
    with pytest.raises(ValueError, match="PrivLeak needs the oracle's AUC"):
        privleak(0.6, oracle)


def test_privleak_refuses_a_degenerate_oracle() -> None:
    """An oracle whose every forget text outranks every holdout text (ours 1.0, MUSE 0.0)
    leaves nothing to divide by: an error, not inf."""
    with pytest.raises(ValueError, match="undefined"):
        privleak(0.6, 1.0)


@pytest.mark.parametrize(("u", "r"), [(1.2, 0.5), (float("nan"), 0.5), (0.5, 1.5)])
def test_privleak_rejects_non_auc(u: float, r: float) -> None:
    with pytest.raises(ValueError, match="ROC-AUC"):
        privleak(u, r)


# --- membership-inference scores ---------------------------------------------------------


def test_score_loss_and_reference() -> None:
    """LOSS: mean of [-1, -3] = -2. Reference: model mean -1 ([-1, -1]), reference model
    mean -3 ([-3], another tokenizer may give another length): NLL_ref - NLL = 3 - 1 = 2."""
    assert score_loss(ts([-1.0, -3.0])) == -2.0
    assert score_reference(ts([-1.0, -1.0]), ts([-3.0])) == pytest.approx(2.0)


def test_score_zlib() -> None:
    """-mean NLL / zlib length: mean log-prob -2 over len(zlib.compress(b"hello hello hello"))."""
    text = "hello hello hello"
    z = len(zlib.compress(text.encode("utf-8")))
    assert score_zlib(ts([-1.0, -3.0]), text) == pytest.approx(-2.0 / z)
    with pytest.raises(ValueError, match="non-empty text"):
        score_zlib(ts([-1.0]), "")


def test_score_min_k() -> None:
    """[-1, -5, -2, -8, -3]; n_k = max(1, int(5k)).
    k=0.4: n_k 2 -> mean(-8, -5) = -6.5. k=0.2: n_k 1 -> -8. k=0.1: int(0.5) = 0 -> 1 -> -8.
    k=1: mean of all = -19/5 = -3.8."""
    s = ts([-1.0, -5.0, -2.0, -8.0, -3.0])
    assert score_min_k(s, k=0.4) == pytest.approx(-6.5)
    assert score_min_k(s) == pytest.approx(-8.0)
    assert score_min_k(s, k=0.1) == pytest.approx(-8.0)
    assert score_min_k(s, k=1.0) == pytest.approx(-3.8)


def test_score_min_k_plus_plus() -> None:
    """logprobs [-1, -2, -3, -4], mu -2, sigma [1, 2, 0.5, 1]:
    z = [(−1+2)/1, (−2+2)/2, (−3+2)/0.5, (−4+2)/1] = [1, 0, -2, -2].
    k=0.5: n_k 2 -> mean(-2, -2) = -2. k=0.75: n_k 3 -> (-2 - 2 + 0)/3 = -4/3.
    sigma 0 is floored at 1e-3: logprob -1, mu -1.5 -> 0.5 / 1e-3 = 500."""
    s = ts([-1.0, -2.0, -3.0, -4.0], mu=[-2.0] * 4, sigma=[1.0, 2.0, 0.5, 1.0])
    assert score_min_k_plus_plus(s, k=0.5) == pytest.approx(-2.0)
    assert score_min_k_plus_plus(s, k=0.75) == pytest.approx(-4 / 3)
    assert score_min_k_plus_plus(ts([-1.0], mu=[-1.5], sigma=[0.0])) == pytest.approx(500.0)


@pytest.mark.parametrize("k", [0.0, -0.2, 1.5, float("nan"), True])
def test_min_k_rejects_bad_k(k: float) -> None:
    for fn in (score_min_k, score_min_k_plus_plus):
        with pytest.raises(ValueError, match="k is a fraction"):
            fn(ts([-1.0, -2.0]), k=k)


def test_score_gradnorm() -> None:
    assert score_gradnorm(2.5) == -2.5
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="gradient norm"):
            score_gradnorm(bad)


def test_mia_auc_hand_count() -> None:
    """Members [0.9, 0.4], non-members [0.5, 0.1]. Pairs member > non-member:
    0.9>0.5 yes, 0.9>0.1 yes, 0.4>0.5 no, 0.4>0.1 yes -> AUC 3/4.
    Ties count 1/2: members [1, 0], non-members [1, 0] -> (0.5 + 1 + 0 + 0.5) / 4 = 0.5."""
    assert mia_auc([0.9, 0.4], [0.5, 0.1]) == pytest.approx(0.75)
    assert mia_auc([1.0, 0.0], [1.0, 0.0]) == pytest.approx(0.5)


def test_mia_orientation_members_score_higher() -> None:
    """A model that fits its members better (higher log-probs) gives AUC 1 for every score."""
    members = [ts([-0.1, -0.2, -0.3]), ts([-0.2, -0.1, -0.4])]
    nonmembers = [ts([-2.0, -3.0, -2.5]), ts([-4.0, -1.5, -3.0])]
    for score in (score_loss, score_min_k, score_min_k_plus_plus):
        assert mia_auc([score(s) for s in members], [score(s) for s in nonmembers]) == 1.0
    assert mia_auc([score_zlib(s, "same text") for s in members],
                   [score_zlib(s, "same text") for s in nonmembers]) == 1.0
    assert mia_auc([score_gradnorm(0.1)], [score_gradnorm(3.0)]) == 1.0


@pytest.mark.parametrize(("m", "n"), [([], [0.1]), ([0.1], []), ([float("nan")], [0.1])])
def test_mia_auc_rejects(m: list, n: list) -> None:
    with pytest.raises(ValueError, match="mia_auc"):
        mia_auc(m, n)


# --- memorization ------------------------------------------------------------------------


def test_exact_memorization() -> None:
    """[T, F, T, T] -> 3/4."""
    assert exact_memorization(ts([-1.0] * 4, correct=[True, False, True, True])) == 0.75


@pytest.mark.parametrize(("correct", "es"), [
    ([True, True, True], 1.0),                 # k* = 0: greedy from the question alone
    ([True, True, False], 0.0),                # last token wrong: k* = |x| = 3
    ([False, False, False], 0.0),
    ([True, False, True, True], 0.5),          # last wrong at 1 -> k* = 2 -> 1 - 2/4
    ([False, True, True, True, True], 0.8),    # k* = 1 -> 1 - 1/5
    ([False], 0.0), ([True], 1.0),
])
def test_extraction_strength_hand_values(correct: list[bool], es: float) -> None:
    assert extraction_strength(ts([-1.0] * len(correct), correct=correct)) == pytest.approx(es)


class _ToyGreedyModel:
    """A deterministic "model": the next token is a fixed random function of the whole prefix."""

    def __init__(self, rng: random.Random, vocab: int = 3) -> None:
        self.rng, self.vocab = rng, vocab
        self.table: dict[tuple[int, ...], int] = {}

    def argmax(self, prefix: tuple[int, ...]) -> int:
        if prefix not in self.table:
            self.table[prefix] = self.rng.randrange(self.vocab)
        return self.table[prefix]

    def greedy(self, question: tuple[int, ...], start: list[int], length: int) -> list[int]:
        out = list(start)
        while len(out) < length:
            out.append(self.argmax(question + tuple(out)))
        return out


def test_extraction_strength_matches_brute_force_greedy_decoding() -> None:
    """The lemma, checked: k* found by actually decoding greedily from every prefix, on 300
    random sequences (about half with k* = |x|, a third with k* = 0, the rest in between)."""
    rng = random.Random(0)
    for trial in range(300):
        model, question = _ToyGreedyModel(rng), (trial % 5,)
        # A greedy continuation, then a few corrupted tokens, so every k* is reachable.
        x = model.greedy(question, [], rng.randint(1, 8))
        for _ in range(rng.randint(0, 3)):
            x[rng.randrange(len(x))] = rng.randrange(model.vocab)
        correct = [model.argmax(question + tuple(x[:t])) == x[t] for t in range(len(x))]
        k_star = min(k for k in range(len(x) + 1) if model.greedy(question, x[:k], len(x)) == x)
        s = ts([-1.0] * len(x), correct=correct)
        assert extraction_strength(s) == pytest.approx(1 - k_star / len(x)), (x, correct)


def _open_unlearning_em_es(correct_with_eos: list[bool]) -> tuple[float, float]:
    """locuslab/open-unlearning memorization.py re-derived on one answer ``a [EOS]``: the
    last labelled position (EOS) is dropped, EM = mean of argmax == label, ES = 1 - k/|x| for
    the first k whose suffix matches (its loop leaves k = |x| - 1 when none does)."""
    preds_ok = correct_with_eos[:-1]
    n = len(preds_ok)
    em = sum(preds_ok) / n
    k = 0
    for k in range(n):
        if all(preds_ok[k:]):
            break
    return em, 1 - k / n


def test_memorization_counts_answer_tokens_without_eos_as_open_unlearning() -> None:
    """Random answers of 1-7 tokens plus EOS, the EOS position right or wrong at random (it
    must never matter). EM always equals the reference; ES equals it wherever some suffix is
    reproduced, and is 0 where none is (the reference floors at 1/|x|: our departure)."""
    rng = random.Random(5)
    departures = 0
    for _ in range(400):
        n = rng.randint(1, 7)
        correct = [rng.random() < 0.7 for _ in range(n)] + [rng.random() < 0.5]
        s = answer_tokens(ts([-1.0] * (n + 1), correct=correct))
        assert s.n_tokens == n
        em_ref, es_ref = _open_unlearning_em_es(correct)
        assert exact_memorization(s) == pytest.approx(em_ref)
        if correct[n - 1]:  # the last answer token is right: some suffix is reproduced
            assert extraction_strength(s) == pytest.approx(es_ref)
        else:
            departures += 1
            assert extraction_strength(s) == 0.0 and es_ref == pytest.approx(1 / n)
    assert departures > 50


def test_answer_tokens_refuses_an_eos_only_answer() -> None:
    with pytest.raises(ValueError, match="no token before its end-of-sequence"):
        answer_tokens(ts([-1.0], correct=[True]))
