"""The per-question arrays of a language-model run's sidecar (``storage.sidecar`` names them).

What the dashboard's language-model views draw beyond the metrics' own arrays: every forget
question with its true answer, whose fact it is, each model's greedy answer and whether it is
an exact match (both taken from the evaluation, never decoded again), and each transformer
block's hidden state on a fixed probe set for layer CKA. ``evaluate_lm`` calls these.

The probe set: up to ``MAX_PROBE`` forget questions spread evenly over the forget set (all of
them when there are fewer), each fed as question + true answer, the hidden state mean-pooled
over its tokens. It depends only on the forget set, so every run that forgot the same people
probes the same sequences, and the original, the unlearned model and the oracle are compared
on exactly the facts that were to be forgotten.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from obliviate.storage import sidecar as sc
from obliviate.tasks.causal_lm.encoding import encode_qa, to_split
from obliviate.tasks.causal_lm.scenario import PeopleData
from obliviate.tasks.causal_lm.task import trim
from obliviate.tasks.classification.probe import _device, _evaluating
from obliviate.types import Split

MAX_PROBE = 64  # sequences; CKA needs a few dozen samples, and a wide model's states add up


def question_arrays(data: PeopleData, answers: Mapping[str, Sequence[str]],
                    exact: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The forget questions, their people, and each role's answer and exact match."""
    facts = data.facts("forget")
    people = [(p.id, p.name) for p in data.people["forget"] for _ in p.facts]
    if len(people) != len(facts):  # facts("forget") is the people's facts, person by person
        raise ValueError(f"{len(facts)} forget questions but {len(people)} person entries")
    out = {sc.QUESTION: np.array([f.questions[0] for f in facts], dtype=np.str_),
           sc.REFERENCE: np.array([f.answer for f in facts], dtype=np.str_),
           sc.PERSON: np.array([i for i, _ in people], dtype=np.str_),
           sc.PERSON_NAME: np.array([n for _, n in people], dtype=np.str_)}
    for role, said in answers.items():
        if len(said) != len(facts) or len(exact[role]) != len(facts):
            raise ValueError(f"{role}: {len(said)} answers and {len(exact[role])} exact-match "
                             f"flags for {len(facts)} forget questions")
        out[sc.answer_key(role)] = np.array(list(said), dtype=np.str_)
        out[sc.exact_key(role)] = np.asarray(exact[role]).astype(bool)
    return out


def probe_positions(n_questions: int, n: int = MAX_PROBE) -> np.ndarray:
    """``n`` positions spread evenly over ``n_questions`` (every one when there are fewer)."""
    if n_questions <= n:
        return np.arange(n_questions, dtype=np.int64)
    return np.unique(np.linspace(0, n_questions - 1, n).round().astype(np.int64))


def block_arrays(models: Mapping[str, nn.Module], data: PeopleData) -> dict[str, np.ndarray]:
    """Each role's mean-pooled hidden state after the embeddings and after every block."""
    facts = data.facts("forget")
    pos = probe_positions(len(facts))
    seqs = [encode_qa(data.tokenizer, facts[j].questions[0], facts[j].answer) for j in pos]
    probe = to_split("lm-probe", seqs, pos.tolist(), data.task.pad_id)
    out: dict[str, np.ndarray] = {sc.PROBE_IDS: pos}
    for role, model in models.items():
        states = block_states(model, probe)
        for k, state in enumerate(states):
            out[sc.layer_key(role, k)] = state
    n = len(states)
    # hidden_states[0] is the embedding output and [i] block i's; Hugging Face models apply
    # their final norm before returning the last one, so the last name says so.
    out[sc.LAYERS] = np.array(["embeddings", *(f"block {i}" for i in range(1, n - 1)),
                               f"block {n - 1} + final norm"], dtype=np.str_)
    return out


def block_states(model: nn.Module, split: Split, batch_size: int = 32) -> list[np.ndarray]:
    """(n, width) float32 per hidden state: the mean over each sequence's unpadded tokens."""
    parts: list[list[np.ndarray]] = []
    dev = _device(model)
    with _evaluating(model):
        for batch in split.batches(batch_size):
            b = trim(batch).to(dev)
            if b.mask is None:
                raise ValueError("causal-LM batches need an attention mask")
            hidden = model(input_ids=b.inputs, attention_mask=b.mask,
                           output_hidden_states=True).hidden_states
            weight = b.mask.unsqueeze(-1).to(torch.float32)
            pooled = [(h.float() * weight).sum(dim=1) / weight.sum(dim=1) for h in hidden]
            if not parts:
                parts = [[] for _ in pooled]
            for acc, p in zip(parts, pooled, strict=True):
                acc.append(p.cpu().numpy().astype(np.float32))
    return [np.concatenate(acc) for acc in parts]
