"""Exact memorization and extraction strength (METRICS.md, "Membership-inference scores").

Both from the teacher-forced argmax alone (``TokenScores.argmax_correct``): EM as in Tirumala
et al. 2022, ES as in locuslab/open-unlearning ``src/evals/metrics/memorization.py`` (minus the
floor noted below). No generation is needed, by the lemma in ``extraction_strength``.

Which tokens count follows open-unlearning: both metrics run on the forget set's question-answer
pairs (``TOFU_QA_forget``), over the answer's labelled tokens with the final end-of-sequence
token dropped (``tokenwise_vocab_logprobs`` keeps ``labels != -100`` minus the last, "to
ignore eos prediction"); the question is context and never scored. ``answer_tokens`` makes
that cut.
"""

from __future__ import annotations

import numpy as np

from obliviate.metrics.lm_inputs import TokenScores


def answer_tokens(s: TokenScores) -> TokenScores:
    """The scored tokens of an answer ``a [EOS]`` without the EOS position (open-unlearning's
    ``actual_indices[:-1]``). An answer that is only EOS has nothing to score: an error, where
    open-unlearning logs a warning and drops the sample (EM) or scores 0 (ES)."""
    if s.n_tokens < 2:
        raise ValueError("answer_tokens: the answer has no token before its end-of-sequence "
                         "token; exact memorization and extraction strength are undefined")
    return TokenScores(s.logprobs[:-1], s.mu[:-1], s.sigma[:-1], s.argmax_correct[:-1])


def exact_memorization(s: TokenScores) -> float:
    """Fraction of scored tokens whose teacher-forced argmax is the true token, in [0, 1]."""
    return float(s.argmax_correct.mean())


def extraction_strength(s: TokenScores) -> float:
    """``ES = 1 - k*/|x|``, with ``k*`` the shortest prefix length from which greedy decoding
    reproduces the rest of ``x`` exactly; in [0, 1].

    Lemma: greedy decoding from ``x_<k`` reproduces ``x_k, ..., x_{T-1}`` iff the
    teacher-forced argmax is correct at every position ``t >= k``.
    Proof, by induction on t >= k. Greedy emits ``y_t = argmax p(. | x_<k, y_k..y_{t-1})``.
    (if) Suppose ``y_k..y_{t-1} = x_k..x_{t-1}`` (true for t = k: nothing emitted yet). Then
    the context of step t is exactly ``x_<t``, so ``y_t = argmax p(. | x_<t)``, which is
    ``x_t`` because the argmax is correct at t. (only if) If greedy reproduces the suffix,
    at each step t the context was ``x_<t`` (the reproduced prefix) and it emitted ``x_t``:
    that is the teacher-forced argmax at t being correct. QED.
    Hence ``k*`` is the smallest k with ``argmax_correct[k:]`` all true: one past the last
    wrong position, 0 if none is wrong (ES = 1), and T if the last token is wrong (ES = 0;
    the whole sequence as "prefix" reproduces the empty rest). The lemma assumes greedy
    decoding and the teacher-forced pass see the same logits and break argmax ties alike
    (both ``argmax`` over one forward pass), which holds up to float round-off in a KV cache.

    open-unlearning's loop stops at ``k = T - 1`` when no suffix matches, so its ES never
    falls below ``1/T``; this one reaches 0.
    """
    wrong = np.flatnonzero(~s.argmax_correct)
    k_star = int(wrong[-1]) + 1 if wrong.size else 0
    return 1.0 - k_star / s.n_tokens
