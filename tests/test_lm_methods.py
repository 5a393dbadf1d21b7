"""Language-model specifics of the methods registered for ``causal_lm``, on a tiny GPT-2: the
paper defaults run, RMU's module selection, answer-row alignment, TNPO's gradient. The contract
every method meets on every kind is ``test_contract.py``; the shared losses are tested by hand
in ``test_lm_losses.py``.

The tiny LM (about 4 s to train): 6 fictitious people (3 questions x 15 facts each), 4 general
facts, a word-level tokenizer and a 2-layer, 64-wide GPT-2 trained until it answers 95% of its
questions exactly. The first person is the forget set.
"""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from contract_kinds import LM_SETTINGS
from obliviate.config import build_config
from obliviate.errors import ObliviateError
from obliviate.methods import METHODS, get_method, rmu
from obliviate.methods.flat import mean_token_prob
from obliviate.methods.paired import answer_rows
from obliviate.tasks.causal_lm.encoding import encode_qa, to_split
from obliviate.tasks.causal_lm.models import build_gpt2
from obliviate.tasks.causal_lm.people import generate_people
from obliviate.tasks.causal_lm.task import CausalLMTask
from obliviate.tasks.causal_lm.tokenizer import build_word_tokenizer
from obliviate.tasks.causal_lm.training import LMRecipe, exact_match, train_lm
from obliviate.types import UnlearnData

LM_NAMES = sorted(n for n, s in METHODS.items() if "causal_lm" in s.tasks)

# The settings the contract suite (test_contract.py) runs each method with on an LM.
SUGGESTED = LM_SETTINGS
# SSD's default alpha = 10 selects no weight when |D| / |D_f| is below 10 batches (here 5).
INERT_AT_DEFAULTS = {"ssd"}


@dataclasses.dataclass(frozen=True)
class TinyLM:
    model: torch.nn.Module
    data: UnlearnData
    task: CausalLMTask


@pytest.fixture(scope="session")
def tiny_lm() -> TinyLM:
    c = generate_people(n=6, n_holdout=2, n_general=4, seed=0)
    texts = ["I don't know.", *(p.bio for p in (*c.people, *c.holdout))]
    for f in [f for p in (*c.people, *c.holdout) for f in p.facts] + list(c.general):
        texts += [*f.questions, *f.heldout_questions, f.answer, f.paraphrased_answer,
                  *f.perturbed_answers]
    tok = build_word_tokenizer(texts)
    forget = [encode_qa(tok, q, f.answer) for f in c.people[0].facts for q in f.questions]
    retain = [encode_qa(tok, q, f.answer) for p in c.people[1:] for f in p.facts
              for q in f.questions]
    retain += [encode_qa(tok, q, f.answer) for f in c.general for q in f.questions]
    n_f, n = len(forget), len(forget) + len(retain)
    task = CausalLMTask(tok.pad_token_id, tok.eos_token_id,
                        refusals=(tuple(tok.encode(" I don't know.", add_special_tokens=False)),))
    model = build_gpt2(tok, n_embd=64, n_layer=2, n_head=2)
    train_lm(model, to_split("train", forget + retain, range(n), task.pad_id), task,
             LMRecipe(max_epochs=60, lr=5e-3, check_every=5), seed=0, progress=False)
    # retrain trains from scratch with data.recipe: 15 epochs keep it quick
    data = UnlearnData(to_split("forget", forget, range(n_f), task.pad_id),
                       to_split("retain", retain, range(n_f, n), task.pad_id),
                       recipe=LMRecipe(max_epochs=15, lr=5e-3, check_every=5))  # type: ignore[arg-type]
    assert exact_match(model, data.forget, task).mean() == 1.0
    return TinyLM(model, data, task)


def _run(t: TinyLM, name: str, overrides: dict[str, object], seed: int = 0) -> torch.nn.Module:
    spec = METHODS[name]
    return spec.unlearn(copy.deepcopy(t.model), t.data, build_config(spec.config, overrides),
                        task=t.task, seed=seed).model


@pytest.mark.parametrize("name", LM_NAMES)
def test_defaults_run_deterministically_and_change_weights(name: str, tiny_lm: TinyLM) -> None:
    a, b = _run(tiny_lm, name, {}), _run(tiny_lm, name, {})
    for (k, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), f"{name}: {k} differs between two runs with seed 0"
        assert torch.isfinite(p).all(), f"{name}: {k} is not finite"
    changed = [k for (k, p), q in zip(a.named_parameters(), tiny_lm.model.parameters(),
                                      strict=True) if not torch.equal(p, q)]
    assert bool(changed) != (name in INERT_AT_DEFAULTS), f"{name}: changed {changed}"
    assert not a.training


def test_lm_methods_are_registered_with_suggested_settings() -> None:
    assert set(SUGGESTED) == set(LM_NAMES) and all(METHODS[n].paper for n in LM_NAMES)
    assert {"grad_diff", "npo", "simnpo", "tnpo", "idkpo", "rmu", "ihl", "flat"} <= set(LM_NAMES)
    with pytest.raises(ObliviateError, match="does not support the 'classification'"):
        get_method("rmu", "classification")  # it steers a named transformer block


def test_rmu_changes_only_the_named_modules(tiny_lm: TinyLM) -> None:
    model = _run(tiny_lm, "rmu", {"steps": 5})
    named = rmu.RMUConfig().update_modules
    for (k, p), q in zip(model.named_parameters(), tiny_lm.model.parameters(), strict=True):
        inside = any(k.startswith(m + ".") for m in named)
        assert torch.equal(p, q) != inside, f"{k}: inside {named} = {inside}"
        assert p.requires_grad  # the method restores what it froze
    with pytest.raises(ObliviateError, match="transformer.h.9"):
        _run(tiny_lm, "rmu", {"update_modules": ("transformer.h.9",)})


def test_answer_rows_align_with_task_logits(tiny_lm: TinyLM) -> None:
    """Row i of ``task.logits`` is the prediction of label i: summing the picked log-probs per
    sample gives back ``task.log_likelihood``, and the average picked probability is the mean
    of the per-token probabilities ``token_logprobs`` reports."""
    t, batch = tiny_lm, next(tiny_lm.data.forget.batches(7))
    with torch.no_grad():
        logits = t.task.logits(t.model, batch)
        labels, sample = answer_rows(batch)
        picked = logits.log_softmax(-1).gather(-1, labels[:, None]).squeeze(-1)
        per_sample = torch.zeros(len(batch)).index_add(0, sample, picked)
        assert torch.allclose(per_sample, t.task.log_likelihood(t.model, batch), atol=1e-5)
        lp, valid = t.task.token_logprobs(t.model, batch)
        mean_p = (lp.exp() * valid).sum(1) / valid.sum(1)
        assert torch.allclose(mean_token_prob(logits, batch), mean_p, atol=1e-6)


def test_training_halves_the_rate_on_a_plateau(tiny_lm: TinyLM) -> None:
    """At lr 1e-12 exact match never moves (0 at every check): best at check 1, stale at 2
    and 3 -> halved at check 3; stale at 4 and 5 -> halved at 5: scale 1/4."""
    from obliviate.methods.common import fresh_weights

    model = copy.deepcopy(tiny_lm.model)
    fresh_weights(model, 0)
    stats = train_lm(model, tiny_lm.data.forget, tiny_lm.task,
                     LMRecipe(max_epochs=6, lr=1e-12, check_every=1, plateau_checks=2,
                              warmup_steps=1), seed=0, progress=False)
    assert stats["exact_match"] == 0.0 and stats["lr_scale"] == 0.25


def test_training_stops_once_the_rate_is_halved_past_the_floor(tiny_lm: TinyLM) -> None:
    """Same plateau, max 200 epochs: halvings at checks 3, 5, 7, 9, 11 give scale 1/32 <
    MIN_LR_SCALE (1/16) at epoch 11, where training stops instead of running to epoch 200."""
    from obliviate.methods.common import fresh_weights
    from obliviate.tasks.causal_lm.training import MIN_LR_SCALE

    assert MIN_LR_SCALE == 1 / 16
    model = copy.deepcopy(tiny_lm.model)
    fresh_weights(model, 0)
    stats = train_lm(model, tiny_lm.data.forget, tiny_lm.task,
                     LMRecipe(max_epochs=200, lr=1e-12, check_every=1, plateau_checks=2,
                              warmup_steps=1), seed=0, progress=False)
    assert stats == {"epochs": 11.0, "exact_match": 0.0, "lr_scale": 1 / 32}


def test_tnpo_gradient_is_token_wise_npo(tiny_lm: TinyLM) -> None:
    """TNPO's step is ``mean_t(w_t log p_t)`` with the weights held constant. Its gradient must
    equal autograd's gradient of the token-wise NPO objective written out independently,
    ``mean_t -(2/beta) log sigmoid(-beta (log p_t - log p_ref,t))``, over answer tokens only
    (log p_t from ``task.token_logprobs``, which masks prompt and padding itself). The reference
    is a perturbed copy so that the ratios, and so the weights, differ from token to token."""
    from obliviate.losses import tnpo_token_weights
    from obliviate.methods.tnpo import token_logprobs

    t, batch, beta = tiny_lm, next(tiny_lm.data.forget.batches(6)), 1.5
    ref = copy.deepcopy(t.model)
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(3)))
        ref_lp, _ = t.task.token_logprobs(ref, batch)
    model = copy.deepcopy(t.model)

    lp, valid = t.task.token_logprobs(model, batch)
    ratio = (lp - ref_lp)[valid]
    (-(2 / beta) * torch.nn.functional.logsigmoid(-beta * ratio)).mean().backward()
    expected = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()

    logp = token_logprobs(t.task, model, batch)
    with torch.no_grad():
        ref_logp = token_logprobs(t.task, ref, batch)
    assert len(logp) == int(valid.sum())
    w = tnpo_token_weights(logp.detach(), ref_logp, beta)
    assert float(w.max() - w.min()) > 0.3  # the weights do differ from token to token
    (w * logp).mean().backward()
    for g, e in zip((p.grad for p in model.parameters()), expected, strict=True):
        assert torch.allclose(g, e, atol=1e-6, rtol=1e-4)
