"""A word-level tokenizer built locally from a corpus: nothing is downloaded.

Words and punctuation marks are tokens (the ``Whitespace`` pre-tokenizer splits on
``\\w+|[^\\w\\s]+``). Padding has its own token, distinct from end-of-sequence, so a padded
batch never hides a real end of answer (a pitfall of the closest peer, which pads with EOS).
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

SPECIAL = {"pad_token": "[PAD]", "bos_token": "[BOS]", "eos_token": "[EOS]",
           "unk_token": "[UNK]"}


def build_word_tokenizer(texts: Iterable[str]) -> PreTrainedTokenizerFast:
    """Every word and punctuation mark of ``texts`` gets an id; ids are in sorted order, so the
    same texts always give the same tokenizer."""
    pre = pre_tokenizers.Whitespace()
    words = sorted({w for t in texts for w, _ in pre.pre_tokenize_str(t)})
    vocab = {tok: i for i, tok in enumerate(SPECIAL.values())}
    for w in words:
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=SPECIAL["unk_token"]))
    tok.pre_tokenizer = pre
    tok.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    return PreTrainedTokenizerFast(tokenizer_object=tok, **SPECIAL)
