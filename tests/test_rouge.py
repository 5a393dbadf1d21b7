"""Our ROUGE-L against the ``rouge_score`` package, with stemming (TOFU) and without (MUSE),
on random and edge-case text."""

from __future__ import annotations

import random

import pytest
from rouge_score import rouge_scorer, tokenize
from rouge_score.tokenizers import DefaultTokenizer

from obliviate.metrics.rouge import RougeL, lcs_length, rouge_l, rouge_tokens

SCORERS = {stem: rouge_scorer.RougeScorer(["rougeL"], use_stemmer=stem) for stem in (False, True)}
STEM = [pytest.param(False, id="muse-no-stem"), pytest.param(True, id="tofu-porter")]

# Words, case, digits, punctuation, non-ASCII letters (separators for rouge_score), odd
# whitespace, characters whose lowercase is ASCII (Kelvin sign, dotted capital I), and words
# whose Porter stems meet ("runs" / "running" / "ran", "fairly" / "fair", "generalizations").
PIECES = ["the", "The", "THE", "cat", "cats", "sat", "on", "mat", "a", "A", "42", "x1",
          "don't", "e-mail", "café", "naïve", "straße", "\u212a", "\u0130", "über", "Ω",
          ",", ".", "!", "...", "'", "-", "\t", "\n", "  ", "", "日本", "x_y", "3.14",
          "running", "runs", "ran", "fairly", "fair", "generalizations", "born", "borne",
          "studied", "studies", "study", "was", "is", "caresses", "ponies", "dying", "lying",
          "Published", "publishing", "authors", "author's", "ies", "sses", "ing"]


def _random_text(rng: random.Random) -> str:
    return " ".join(rng.choice(PIECES) for _ in range(rng.randint(0, 14)))


def _reference(prediction: str, reference: str, stem: bool) -> tuple[float, float, float]:
    # rouge_score takes (target, prediction)
    s = SCORERS[stem].score(reference, prediction)["rougeL"]
    return s.precision, s.recall, s.fmeasure


@pytest.mark.parametrize("stem", STEM)
def test_tokens_match_rouge_score_tokenizer(stem: bool) -> None:
    rng = random.Random(0)
    theirs = DefaultTokenizer(use_stemmer=stem)
    for _ in range(500):
        text = _random_text(rng)
        assert rouge_tokens(text, stem=stem) == theirs.tokenize(text), text
    if not stem:
        assert rouge_tokens("The cat's", stem=False) == tokenize.tokenize("The cat's", None)


def test_stemming_changes_tokens_as_porter_does() -> None:
    """Porter (NLTK's default mode, as rouge_score builds it) on words written out by hand:
    running -> run, studies -> studi, caresses -> caress, ponies -> poni; 3-letter words are
    left alone (rouge_score stems only words longer than 3 characters): "was", "ran"."""
    assert rouge_tokens("running studies caresses ponies was ran", stem=True) == [
        "run", "studi", "caress", "poni", "was", "ran"]
    assert rouge_tokens("running studies", stem=False) == ["running", "studies"]


def test_stemming_matters_for_recall() -> None:
    """"she runs" against the reference "she running": unstemmed the LCS is "she" (1 of 2
    reference tokens, recall 1/2); stemmed both are "she run" (recall 1)."""
    assert rouge_l("she runs", "she running", stem=False).recall == pytest.approx(0.5)
    assert rouge_l("she runs", "she running", stem=True).recall == pytest.approx(1.0)
    assert _reference("she runs", "she running", True)[1] == pytest.approx(1.0)


@pytest.mark.parametrize("stem", STEM)
def test_matches_rouge_score_on_random_text(stem: bool) -> None:
    rng = random.Random(1)
    for _ in range(1500):
        pred, ref = _random_text(rng), _random_text(rng)
        ours = rouge_l(pred, ref, stem=stem)
        assert ours == pytest.approx(_reference(pred, ref, stem), abs=1e-12), (pred, ref)


@pytest.mark.parametrize("stem", STEM)
def test_matches_rouge_score_on_long_paraphrases(stem: bool) -> None:
    """VerbMem-sized texts (~128 words) that share most words in a shuffled order."""
    rng = random.Random(2)
    words = [f"w{i}" for i in range(40)] + ["running", "runs", "studies", "study"]
    for _ in range(20):
        ref = [rng.choice(words) for _ in range(128)]
        pred = [w if rng.random() < 0.7 else rng.choice(words) for w in ref]
        rng.shuffle(pred[: rng.randint(0, 60)])
        p, r = " ".join(pred), " ".join(ref)
        assert rouge_l(p, r, stem=stem) == pytest.approx(_reference(p, r, stem), abs=1e-12)


@pytest.mark.parametrize("stem", STEM)
@pytest.mark.parametrize(("pred", "ref"), [
    ("", ""), ("", "the cat"), ("the cat", ""), ("...", "the cat"), ("  \t\n", "x"),
    ("café", "caf"), ("CAT", "cat"), ("cat", "cat cat cat"), ("a b c d", "d c b a"),
    ("ies", "sses"), ("dying", "die"),
])
def test_edge_cases_match_rouge_score(pred: str, ref: str, stem: bool) -> None:
    assert rouge_l(pred, ref, stem=stem) == pytest.approx(_reference(pred, ref, stem), abs=1e-12)


def test_known_values() -> None:
    """Worked by hand.

    - identical text: LCS = all tokens, P = R = F1 = 1 (case and punctuation ignored).
    - "the cat sat" vs reference "the cat sat on the mat": LCS 3, P = 3/3, R = 3/6,
      F1 = 2 * 1 * 0.5 / 1.5 = 2/3.
    - "a b c d" vs "d c b a": LCS 1, P = R = F1 = 1/4.
    - empty on either side, or no shared word: all 0.
    """
    assert rouge_l("The cat, sat.", "the CAT sat", stem=False) == RougeL(1.0, 1.0, 1.0)
    assert rouge_l("the cat sat", "the cat sat on the mat", stem=False) == pytest.approx(
        (1.0, 0.5, 2 / 3))
    assert rouge_l("a b c d", "d c b a", stem=True) == pytest.approx((0.25, 0.25, 0.25))
    assert rouge_l("", "anything", stem=True) == (0.0, 0.0, 0.0)
    assert rouge_l("dog", "cat", stem=False) == (0.0, 0.0, 0.0)
    assert rouge_l("x y", "x y", stem=True).f1 == 1.0


def test_lcs_length_hand_values() -> None:
    """ABCBDAB vs BDCABA: the textbook LCS length 4 (e.g. BCBA)."""
    assert lcs_length(list("ABCBDAB"), list("BDCABA")) == 4
    assert lcs_length(list("BDCABA"), list("ABCBDAB")) == 4
    assert lcs_length([], ["a"]) == 0


def test_non_text_raises() -> None:
    with pytest.raises(TypeError, match="ROUGE needs text"):
        rouge_l(3, "x", stem=False)  # deliberately not a str
