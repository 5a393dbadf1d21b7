"""Turning questions, answers and texts into padded token tensors with answer-only labels.

A question-answer pair is ``[BOS] Question: q Answer: a [EOS]``; only ``a [EOS]`` carries
labels (-100 elsewhere), so losses never count prompt or padding positions. A text is
``[BOS] text [EOS]`` with labels on every token after BOS. Labels come from lengths, never from
comparing ids with the pad id, so a tokenizer whose pad token equals its EOS cannot mask a real
end of answer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from obliviate.types import Split

IGNORE = -100
PROMPT = "Question: {question} Answer:"

Encoded = tuple[list[int], list[int]]  # (token ids, labels)


def _bos(tok: PreTrainedTokenizerBase) -> list[int]:
    return [] if tok.bos_token_id is None else [int(tok.bos_token_id)]


def prompt_ids(tok: PreTrainedTokenizerBase, question: str) -> list[int]:
    return _bos(tok) + tok.encode(PROMPT.format(question=question), add_special_tokens=False)


def answer_ids(tok: PreTrainedTokenizerBase, answer: str) -> list[int]:
    """The answer's tokens followed by EOS (the leading space matters to BPE tokenizers)."""
    return tok.encode(" " + answer, add_special_tokens=False) + [int(tok.eos_token_id)]


def encode_qa(tok: PreTrainedTokenizerBase, question: str, answer: str) -> Encoded:
    p, a = prompt_ids(tok, question), answer_ids(tok, answer)
    return p + a, [IGNORE] * len(p) + a


def encode_cloze(tok: PreTrainedTokenizerBase, prefix: str, answer: str) -> Encoded:
    """``[BOS] prefix answer`` with labels on the answer only (no EOS: a statement goes on)."""
    p = _bos(tok) + tok.encode(prefix, add_special_tokens=False)
    a = tok.encode(" " + answer, add_special_tokens=False)
    return p + a, [IGNORE] * len(p) + a


def encode_text(tok: PreTrainedTokenizerBase, text: str) -> Encoded:
    ids = _bos(tok) + tok.encode(text, add_special_tokens=False) + [int(tok.eos_token_id)]
    labels = list(ids)
    if _bos(tok):
        labels[0] = IGNORE  # nothing predicts the first token
    return ids, labels


def to_split(name: str, items: Sequence[Encoded], row_ids: Sequence[int], pad_id: int) -> Split:
    """Right-pad ``items`` into one split; ``mask`` is the attention mask."""
    if not items:
        raise ValueError(f"split {name!r} has no sequences")
    width = max(len(ids) for ids, _ in items)
    inputs = torch.full((len(items), width), pad_id, dtype=torch.long)
    targets = torch.full((len(items), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for i, (ids, labels) in enumerate(items):
        n = len(ids)
        inputs[i, :n] = torch.tensor(ids)
        targets[i, :n] = torch.tensor(labels)
        mask[i, :n] = 1
    return Split(name, inputs, targets, np.asarray(row_ids, dtype=np.int64), mask)


def qa_rows(split: Split) -> Split:
    """The question-answer rows of a causal-LM split (their second token is prompt, so not
    labelled; a text is labelled from its second token on). Exact match is judged on answers,
    as for the scenario's oracle, never on whole biographies."""
    is_qa = (split.targets[:, 1] == -100).numpy()
    return split.subset(np.nonzero(is_qa)[0]) if is_qa.any() else split
