"""ROUGE-L (Lin 2004) on word tokens, matching the ``rouge_score`` package.

Two conventions, chosen per caller and always explicit (``stem=``):

* TOFU stems: locuslab/tofu ``evaluate_util.py`` and locuslab/open-unlearning
  ``src/evals/metrics/utils.py`` (``eval_text_similarity``) both score with
  ``RougeScorer(["rouge1", "rougeL"], use_stemmer=True)``.
* MUSE does not: muse_bench's ``RougeEvalLogger`` uses ``use_stemmer=False``.

Tokenisation is rouge_score's default tokenizer: lowercase, every run of characters outside
``[a-z0-9]`` becomes a separator (so non-ASCII letters separate words); with stemming, tokens
longer than 3 characters go through NLTK's Porter stemmer in its default mode, which is the
stemmer rouge_score itself builds (``nltk.stem.porter.PorterStemmer()``). The LCS is our own,
so the metric does not depend on rouge_score's internals; both conventions are tested against
``RougeScorer`` on random and edge-case strings.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

_NON_ALPHANUMERIC = re.compile(r"[^a-z0-9]+")
_VALID_TOKEN = re.compile(r"^[a-z0-9]+$")
_STEM_MIN_LENGTH = 4  # rouge_score stems "words more than 3 characters long" only


class RougeL(NamedTuple):
    """ROUGE-L precision (LCS / |prediction|), recall (LCS / |reference|) and their F1."""

    precision: float
    recall: float
    f1: float


@functools.lru_cache(maxsize=1)
def _porter() -> object:
    # Imported on first use: NLTK takes about a second to import and only stemming needs it.
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer()


@functools.lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return str(_porter().stem(word))  # type: ignore[attr-defined]


def rouge_tokens(text: str, *, stem: bool = False) -> list[str]:
    """Lowercase word tokens: ``text.lower()``, non-``[a-z0-9]`` runs as separators; with
    ``stem``, words of 4+ characters Porter-stemmed (rouge_score's ``use_stemmer=True``)."""
    if not isinstance(text, str):
        raise TypeError(f"ROUGE needs text (str), got {type(text).__name__}: {text!r:.80}")
    tokens = _NON_ALPHANUMERIC.sub(" ", text.lower()).split()
    if stem:
        tokens = [_stem(t) if len(t) >= _STEM_MIN_LENGTH else t for t in tokens]
        # rouge_score's last step drops tokens that are no longer [a-z0-9]+ after stemming.
        tokens = [t for t in tokens if _VALID_TOKEN.match(t)]
    return tokens


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of two token lists (O(|a||b|) time)."""
    if len(b) > len(a):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(prediction: str, reference: str, *, stem: bool) -> RougeL:
    """ROUGE-L of ``prediction`` against ``reference`` as (precision, recall, F1).

    ``stem`` has no default on purpose: TOFU's numbers stem and MUSE's do not, and a silent
    default would make one of them wrong. If either side has no tokens (empty or punctuation
    only) all three are 0, as in rouge_score: there is no overlap to measure, and an empty
    generation must score as recalling nothing.
    """
    pred, ref = rouge_tokens(prediction, stem=stem), rouge_tokens(reference, stem=stem)
    if not pred or not ref:
        return RougeL(0.0, 0.0, 0.0)
    lcs = lcs_length(pred, ref)
    precision, recall = lcs / len(pred), lcs / len(ref)
    f1 = 2 * precision * recall / (precision + recall) if lcs else 0.0
    return RougeL(precision, recall, f1)
