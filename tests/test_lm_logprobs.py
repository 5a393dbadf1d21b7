"""The lean log-probabilities of ``CausalLMTask`` against the float32 full ``log_softmax``.

The reference is written out here, independently: every position's logits from the model's
own forward, ``log_softmax`` in float32, gathered at the labels, prompt and padding masked.
The task computes the output layer only at labelled positions, in checkpointed chunks
(``CHUNK`` set to 4 here so a batch spans several chunks).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel

from lm_tiny import tiny_llama
from obliviate.passes import count_passes
from obliviate.tasks.causal_lm import task as task_module
from obliviate.tasks.causal_lm.task import IGNORE, CausalLMTask
from obliviate.types import Batch

VOCAB, PAD, EOS = 97, 0, 2


def _gpt2() -> nn.Module:
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(vocab_size=VOCAB, n_positions=64, n_embd=32, n_layer=2,
                                      n_head=2)).eval()


MODELS = {"llama": lambda: tiny_llama(VOCAB), "gpt2": _gpt2}


def _batch() -> Batch:
    """Three rows: prompts of 3, 5 and 2 tokens, answers of 4, 2 and 6, right-padded to 10
    (one row shorter than the rest, so padding sits inside the trimmed width)."""
    gen = torch.Generator().manual_seed(3)
    rows = [(3, 4), (5, 2), (2, 6)]
    ids = torch.full((3, 10), PAD)
    tgt = torch.full((3, 10), IGNORE)
    mask = torch.zeros(3, 10, dtype=torch.long)
    for i, (p, a) in enumerate(rows):
        seq = torch.randint(3, VOCAB, (p + a,), generator=gen)
        ids[i, :p + a], mask[i, :p + a] = seq, 1
        tgt[i, p:p + a] = seq[p:]
    return Batch(ids, tgt, mask)


def _reference(model: nn.Module, b: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    width = int(b.mask.sum(1).max())
    logits = model(input_ids=b.inputs[:, :width], attention_mask=b.mask[:, :width]).logits
    labels = b.targets[:, 1:width]
    valid = labels != IGNORE
    lp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    picked = lp.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return picked * valid, logits[:, :-1][valid]


TASK = CausalLMTask(PAD, EOS, ((5, 6),))


@pytest.mark.parametrize("name", MODELS)
def test_token_logprobs_equal_the_full_float32_log_softmax(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(task_module, "CHUNK", 4)  # 12 labelled positions: three chunks
    model, b = MODELS[name](), _batch()
    want, want_logits = _reference(model, b)
    lp, valid = TASK.token_logprobs(model, b)
    assert valid.sum() == 12 and lp.shape == want.shape
    torch.testing.assert_close(lp, want, atol=1e-5, rtol=0)
    assert (lp[~valid] == 0).all()
    torch.testing.assert_close(TASK.logits(model, b), want_logits, atol=1e-5, rtol=0)
    # The per-sample quantities methods use, by hand from the reference.
    n = valid.sum(1)
    torch.testing.assert_close(TASK.per_sample_loss(model, b), -want.sum(1) / n, atol=1e-5,
                               rtol=0)
    torch.testing.assert_close(TASK.log_likelihood(model, b), want.sum(1), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", MODELS)
def test_gradients_through_checkpointed_chunks_equal_the_reference(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(task_module, "CHUNK", 4)
    model, b = MODELS[name](), _batch()
    want, _ = _reference(model, b)
    ref = torch.autograd.grad(want.sum(), list(model.parameters()))
    with count_passes(model) as passes:
        got = torch.autograd.grad(TASK.log_likelihood(model, b).sum(),
                                  list(model.parameters()))
    for g, r in zip(got, ref, strict=True):
        torch.testing.assert_close(g, r, atol=1e-5, rtol=1e-4)
    assert passes.forward == 3 and passes.backward == 3  # the backward still reaches the model


def test_the_output_layer_sees_only_labelled_positions() -> None:
    """The head's input is the 12 answer positions (a (1, 12, H) call would mean the whole
    sequence ran through it)."""
    model, b = tiny_llama(VOCAB), _batch()
    shapes: list[tuple[int, ...]] = []
    model.get_output_embeddings().register_forward_hook(
        lambda _m, args, _out: shapes.append(tuple(args[0].shape)))
    TASK.token_logprobs(model, b)
    assert shapes == [(3, 0, 32), (12, 32)]  # the model's own call (empty), then one chunk


def test_probe_scores_equal_a_float64_full_softmax_row_by_row() -> None:
    """``probe.score`` (length-sorted batches, labelled positions only, float32, two-pass
    spread) against the float64 one-pass formulas on the full logits, one row at a time."""
    import numpy as np

    from obliviate.tasks.causal_lm.probe import score
    from obliviate.types import Split

    model, b = tiny_llama(VOCAB), _batch()
    split = Split("s", b.inputs, b.targets, np.arange(3), b.mask)
    got = score(model, TASK, split, batch_size=2)  # rows 2 and 0 together, then row 1
    with torch.no_grad():
        for i, s in enumerate(got):
            n = int(b.mask[i].sum())
            logits = model(input_ids=b.inputs[i:i + 1, :n]).logits[0, :-1].double()
            labels = b.targets[i, 1:n]
            v = labels != IGNORE
            logp = torch.log_softmax(logits, -1)[v]
            p = logp.exp()
            mu = (p * logp).sum(-1)
            sigma = ((p * logp ** 2).sum(-1) - mu ** 2).clamp(min=0).sqrt()
            np.testing.assert_allclose(s.logprobs, logp.gather(-1, labels[v][:, None])[:, 0],
                                       atol=1e-5)
            np.testing.assert_allclose(s.mu, mu, atol=1e-5)
            np.testing.assert_allclose(s.sigma, sigma, atol=1e-5)
            assert (s.argmax_correct == (logits[v].argmax(-1) == labels[v]).numpy()).all()



@pytest.mark.parametrize("name", MODELS)
def test_answers_sharing_a_prompt_cache_score_as_whole_rows(name: str) -> None:
    """``score_answers`` (the prompt's KV cache shared by its answers) against ``score`` on
    the rows prompt + answer, which the test above checks against float64 by hand."""
    import numpy as np

    from obliviate.tasks.causal_lm.encoding import to_split
    from obliviate.tasks.causal_lm.probe import score, score_answers

    model = MODELS[name]()
    gen = torch.Generator().manual_seed(5)

    def seq(n: int) -> list[int]:
        return torch.randint(3, VOCAB, (n,), generator=gen).tolist()

    groups = [(seq(6), [seq(3), seq(1), seq(5)]), (seq(2), [seq(4), seq(2)])]
    rows = [(p + a, [IGNORE] * len(p) + a) for p, answers in groups for a in answers]
    want = score(model, TASK, to_split("w", rows, range(len(rows)), PAD))
    got = [s for g in score_answers(model, TASK, groups) for s in g]
    assert [len(s.logprobs) for s in got] == [3, 1, 5, 4, 2]
    for g, w in zip(got, want, strict=True):
        for field in ("logprobs", "mu", "sigma"):
            np.testing.assert_allclose(getattr(g, field), getattr(w, field), atol=1e-5)
        assert (g.argmax_correct == w.argmax_correct).all()


def test_bf16_evaluation_stays_near_the_float32_reference() -> None:
    """``eval_bf16`` (autocast) against float32 on the tiny people pair: every answer's
    log-probabilities within 0.05 nats (a bf16 mantissa has 8 bits), and the record says
    which it was."""
    import dataclasses

    import numpy as np

    from conftest import untrained_lm_pair
    from obliviate.tasks.causal_lm.evaluation import _Probe

    t = untrained_lm_pair()
    fast = dataclasses.replace(t.data, eval_bf16=True)
    ref, got = _Probe(t.original, t.data), _Probe(t.original, fast)
    worst = max(float(np.abs(a.logprobs - b.logprobs).max())
                for a, b in zip(got.scores, ref.scores, strict=True))
    assert 0 < worst < 0.05  # > 0: autocast did run
    assert fast.record_fields()["eval_dtype"] == "bfloat16 autocast"
    assert t.data.record_fields()["eval_dtype"] == "float32"
