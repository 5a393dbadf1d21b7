"""The language-model pipeline end to end on a tiny people scenario (6 people, 64-wide GPT-2)."""

from __future__ import annotations

import copy
import dataclasses
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import TINY_PEOPLE
from obliviate.runner import RunSpec, Trained, Workspace, prepare
from obliviate.scenarios import SCENARIOS
from obliviate.tasks.causal_lm.encoding import IGNORE, encode_qa, prompt_ids, to_split
from obliviate.tasks.causal_lm.evaluation import evaluate_lm
from obliviate.tasks.causal_lm.models import load_local_causal_lm
from obliviate.tasks.causal_lm.probe import greedy
from obliviate.tasks.causal_lm.task import CausalLMTask
from obliviate.tasks.causal_lm.training import exact_match

TINY = TINY_PEOPLE


@pytest.fixture(scope="module")
def lm(tiny_people_ws: tuple[Trained, Workspace]) -> tuple[Trained, Workspace]:
    return tiny_people_ws


def test_models_memorise_and_oracle_never_saw_forget_people(
        lm: tuple[Trained, Workspace]) -> None:
    t, _ = lm
    d = t.data
    assert len(d.forget_ids) == 2  # round(0.34 * 6)
    assert t.meta["original"]["exact_match"] >= 0.95  # trained to the target, as TOFU's
    assert t.meta["oracle"]["exact_match"] >= 0.95
    forget_qa = d.judge_split("original").subset(np.array([
        i for i, r in enumerate(d.judge_split("original").ids)
        if d.items[r].subject in d.forget_ids]))
    assert exact_match(t.original, forget_qa, d.task).mean() >= 0.9
    # The oracle can only guess fictitious facts it never saw.
    assert exact_match(t.oracle, forget_qa, d.task).mean() < 0.3


def test_every_retrain_is_judged_on_the_people_it_trains_on(
        lm: tuple[Trained, Workspace]) -> None:
    """The oracle and the noise floor train on the retain people, so their exact-match target
    counts retain questions only; the original's counts every question."""
    d = lm[0].data
    subjects = {role: {d.items[r].subject for r in d.judge_split(role).ids}
                for role in ("original", "oracle", "independent")}
    assert set(d.forget_ids) <= subjects["original"]
    for role in ("oracle", "independent"):
        assert subjects[role] == subjects["original"] - set(d.forget_ids), role


def test_greedy_decoding_agrees_with_teacher_forced_exact_match(
        lm: tuple[Trained, Workspace]) -> None:
    """Greedy reproduces ``a [EOS]`` iff every teacher-forced argmax is right (the lemma the
    metrics rely on), checked on a real trained model, question by question."""
    t, _ = lm
    d, tok = t.data, t.data.tokenizer
    facts = d.facts("forget") + d.facts("retain")
    split = to_split("q", [encode_qa(tok, f.questions[0], f.answer) for f in facts],
                     range(len(facts)), d.task.pad_id)
    for model in (t.original, t.oracle):
        tf = exact_match(model, split, d.task)
        gen = greedy(model, [prompt_ids(tok, f.questions[0]) for f in facts], 12,
                     pad_id=d.task.pad_id, eos_id=d.task.eos_id)
        want = [tok.encode(" " + f.answer, add_special_tokens=False) for f in facts]
        assert list(tf) == [g == w for g, w in zip(gen, want, strict=True)]


def test_batched_left_padded_decoding_equals_one_prompt_at_a_time(
        lm: tuple[Trained, Workspace]) -> None:
    """Left padding is masked and rows that end early do not disturb the others, on a noised
    model whose answers are not all memorised: over prompts of several lengths, and over
    prompts of one length (where ``generate`` drops the all-ones mask and transformers
    advises passing one; the advice is wrong here and is kept out of the log)."""
    t, _ = lm
    d, tok = t.data, t.data.tokenizer
    mixed = [prompt_ids(tok, q) for f in d.facts("forget") + d.facts("retain")
             for q in (f.questions[0], *f.heldout_questions)]
    lengths = [len(p) for p in mixed]
    assert len(set(lengths)) >= 3  # rows really are padded
    same = [p for p in mixed if len(p) == max(set(lengths), key=lengths.count)]
    assert len(same) >= 8
    model = copy.deepcopy(t.original)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ids = dict(pad_id=d.task.pad_id, eos_id=d.task.eos_id)
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    log = logging.getLogger("transformers.modeling_utils")
    keep = Keep()
    log.addHandler(keep)
    try:
        logging.Logger.warning_once.cache_clear()  # type: ignore[attr-defined]
        batched = [greedy(model, prompts, 8, **ids) for prompts in (mixed, same)]
        log.warning("another message")  # the filter drops only the padding advice
    finally:
        log.removeHandler(keep)
    for prompts, got in zip((mixed, same), batched, strict=True):
        alone = [greedy(model, [p], 8, **ids)[0] for p in prompts]
        assert got == alone
        assert len({len(a) for a in alone}) > 1  # rows end at different steps
    assert seen == ["another message"]


def test_cache_exports_save_pretrained_and_reloads(lm: tuple[Trained, Workspace]) -> None:
    t, ws = lm
    again = prepare(RunSpec("ga", "people:0.34", "people-tiny", 0), ws, progress=False)
    for a, b in zip(t.original.state_dict().values(), again.original.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    exported = ws.home / "cache" / t.data.model_key("original") / "hf"
    model, tok = load_local_causal_lm(exported)
    ids = torch.tensor([prompt_ids(tok, t.data.facts("forget")[0].questions[0])])
    assert torch.allclose(model(input_ids=ids).logits, t.original(input_ids=ids).logits)


def test_evaluation_values_and_pass_budget(lm: tuple[Trained, Workspace]) -> None:
    t, _ = lm
    metrics, extra = evaluate_lm({"original": t.original, "unlearned": t.original,
                                  "oracle": t.oracle}, t.data, seed=0)
    fq = metrics["Forget quality"]
    assert fq["oracle"] == 1.0  # KS test of a sample against itself
    assert fq["unlearned"] == fq["original"] < 0.05  # memorised vs never seen: separable
    assert metrics["PrivLeak"]["oracle"] == 0.0
    assert metrics["MIA AUC Reference"]["oracle"] is None  # the oracle is the reference
    assert metrics["Exact match (D_f)"]["original"] >= 90.0
    assert metrics["Exact match (D_f)"]["oracle"] < 30.0
    assert 0 < metrics["Model utility"]["original"] <= 1
    assert extra["forget_questions"] == 2 * 15
    for role, p in extra["eval_passes"].items():
        assert p["ratio"] <= 1.5, (role, p)


def test_pad_equal_to_eos_never_masks_the_answer_end() -> None:
    """The peer's pitfall: with pad == EOS, labels built by comparing with the pad id would
    drop the real end of the answer. Ours come from lengths: EOS is always a label."""
    from obliviate.tasks.causal_lm.tokenizer import build_word_tokenizer

    tok = build_word_tokenizer(["Question: who ? Answer: me"])
    tok.pad_token = tok.eos_token
    ids, labels = encode_qa(tok, "who ?", "me")
    assert labels[-1] == tok.eos_token_id and ids[-1] == tok.eos_token_id
    split = to_split("s", [(ids, labels), encode_qa(tok, "who ? who ?", "me")], [0, 1],
                     tok.pad_token_id)
    assert (split.targets[0] == tok.eos_token_id).sum() == 1  # padding is IGNORE, not EOS
    assert (split.targets[0, len(ids):] == IGNORE).all()
    task = CausalLMTask(tok.pad_token_id, tok.eos_token_id, ((5,),))
    torch.manual_seed(0)
    logits = torch.randn(2, split.inputs.shape[1], len(tok))

    class Fixed(torch.nn.Module):
        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> object:
            return type("O", (), {"logits": logits[:, :input_ids.shape[1]]})()

    loss = task.per_sample_loss(Fixed(), next(split.batches(2)))
    # Row 0: answer "me" then EOS, predicted from positions n-3 and n-2 (2 tokens counted).
    lp = torch.log_softmax(logits[0], -1)
    n = len(ids)
    want = -(lp[n - 3, ids[n - 2]] + lp[n - 2, ids[n - 1]]) / 2
    assert torch.isclose(loss[0], want)


def test_unknown_people_spec_is_clear(tmp_path: Path) -> None:
    from obliviate.errors import ForgetSetError

    with pytest.raises(ForgetSetError, match="people"):
        dataclasses.replace(TINY).build("class:3", 0)


def test_run_table_shows_lm_metrics_with_missing_oracle_values() -> None:
    """An LM record prints every metric; a value the oracle cannot have shows as a dash."""
    from obliviate.views.tables import run_table

    record = {
        "scenario": {"name": "people-tiny", "model": "gpt2", "forget": "people:0.34",
                     "seed": 0, "sizes": {"forget": 92, "retain": 200}, "kind": "lm"},
        "method": {"name": "npo"},
        "efficiency": {"unlearn_seconds": 1.0, "ratio": 0.1, "retrain_seconds": 10.0,
                       "forward": 5, "backward": 5, "retrain_forward": 50,
                       "retrain_backward": 50},
        "metrics": {
            "Forget quality": {"unit": "p", "original": 1e-9, "unlearned": 0.2,
                               "oracle": 1.0, "higher_is_better": True},
            "MIA AUC Reference": {"unit": "auc", "original": 1.0, "unlearned": 0.6,
                                  "oracle": None, "higher_is_better": False},
        },
    }
    lines = run_table(record).splitlines()
    ref = next(line for line in lines if line.startswith("MIA AUC Reference"))
    assert ref.split()[-2:] == ["—", "—"]  # oracle value and gap
    fq = next(line for line in lines if line.startswith("Forget quality"))
    assert fq.split()[-4:] == ["0.0000", "0.2000", "1.0000", "0.8000"]
    assert lines[-1].startswith("verdict: not available (verdict: the record lacks model "
                                "utility")


def test_local_hf_model_fine_tuned_then_unlearned_through_lora(tmp_path: Path) -> None:
    """``--model DIR``: a causal LM the test builds and saves with its own tokenizer is
    fine-tuned on the people (original, oracle) and unlearned through a LoRA adapter."""
    from obliviate.runner import run
    from obliviate.tasks.causal_lm.models import build_gpt2

    SCENARIOS["people-tiny"] = TINY
    tok = TINY.build("people:0.34", 0).tokenizer
    base = tmp_path / "my-model"
    build_gpt2(tok, n_embd=64, n_layer=2, n_head=2, seed=7).save_pretrained(base)
    tok.save_pretrained(base)
    ws = Workspace(tmp_path / "home")
    spec = RunSpec("npo", "people:0.34", "people-tiny", 0, model=str(base), lora=True,
                   overrides={"lr": 5e-3, "epochs": 3, "batch_size": 8})
    trained = prepare(spec, ws, progress=False)
    assert trained.meta["original"]["exact_match"] >= 0.9  # fine-tuned from the saved model
    record, path = run(spec, ws, trained=trained, progress=False)
    assert path.is_file() and record["scenario"]["model"] == str(base)
    em = record["metrics"]["Exact match (D_f)"]
    assert em["unlearned"] < em["original"]  # the adapter's update reached the model
    # LoRA trained adapters only; merged, every base weight stayed finite and shaped.
    assert trained.original.transformer.h[0].attn.c_attn.weight.shape == (64, 192)


def test_people_jsonl_replaces_the_generator(tmp_path: Path) -> None:
    from obliviate.runner import resolve_scenario
    from obliviate.tasks.causal_lm.people import generate_people, write_jsonl

    SCENARIOS["people-tiny"] = TINY
    write_jsonl(generate_people(n=6, n_holdout=3, n_general=4, seed=0), tmp_path / "p.jsonl")
    scenario = resolve_scenario(RunSpec("npo", "people:0.34", "people-tiny", 0,
                                        data=str(tmp_path / "p.jsonl")))
    mine, generated = scenario.build("people:0.34", 0), TINY.build("people:0.34", 0)
    assert mine.items == generated.items and mine.forget_ids == generated.forget_ids
    assert torch.equal(mine.forget.inputs, generated.forget.inputs)


def test_attacks_on_a_language_model(lm: tuple[Trained, Workspace]) -> None:
    """Relearning, quantization and forms on the tiny people scenario, checked against
    exact match computed here; the oracle attacked as if it were the unlearned model is
    never flagged."""
    from obliviate.attacks import Target, run_attacks
    from obliviate.attacks.forms import FormsConfig, cloze_prefix, wrong_values
    from obliviate.attacks.quantize import QuantizeConfig
    from obliviate.attacks.relearn import RelearnConfig, split_forget
    from obliviate.tasks.causal_lm.encoding import encode_cloze

    t, _ = lm
    d, tok = t.data, t.data.tokenizer
    target = Target(d, {"original": t.original, "unlearned": t.oracle, "oracle": t.oracle},
                    seed=0)
    out = run_attacks(["relearn", "quantize", "forms"],
                      {"relearn": RelearnConfig(), "quantize": QuantizeConfig(),
                       "forms": FormsConfig()}, target, None)
    for a in out.values():
        for v in a["variants"].values():
            assert v["before"]["unlearned"] == v["before"]["oracle"]
            assert v["after"]["unlearned"] == v["after"]["oracle"]
            assert v["verdict"] == "survives"
    facts = d.facts("forget")
    # relearning holds out whole facts: no phrasing of a shown fact is tested
    shown, rest = split_forget(target, 0.5, seed=0)
    answers = {(d.items[i].subject, d.items[i].target) for i in shown.ids}
    assert answers and not answers & {(d.items[i].subject, d.items[i].target) for i in rest.ids}
    # the forms: held-out phrasings and cloze, scored here with exact_match directly
    held = to_split("h", [encode_qa(tok, q, f.answer) for f in facts
                          for q in f.heldout_questions], range(sum(
                              len(f.heldout_questions) for f in facts)), d.task.pad_id)
    forms = out["forms"]["variants"]
    assert forms["held-out template"]["after"]["original"] == pytest.approx(
        100 * exact_match(t.original, held, d.task).mean())
    cloze = to_split("c", [encode_cloze(tok, cloze_prefix(f), f.answer) for f in facts],
                     range(len(facts)), d.task.pad_id)
    assert forms["fill-in-the-blank"]["after"]["original"] == pytest.approx(
        100 * exact_match(t.original, cloze, d.task).mean())
    assert cloze.targets[0][cloze.targets[0] != IGNORE].tolist() == tok.encode(
        " " + facts[0].answer, add_special_tokens=False)  # the value only, no EOS
    f = facts[0]
    assert f.paraphrased_answer == f"{cloze_prefix(f)} {f.answer}."
    assert len(wrong_values(f)) == len(f.perturbed_answers) >= 3
    assert f.answer not in wrong_values(f)
    assert out["forms"]["params"]["multiple_choice_chance"] == pytest.approx(25.0)


def test_reference_probes_belong_to_the_model_not_its_cache_key(
        lm: tuple[Trained, Workspace]) -> None:
    """An untrained pair built on the same data has the trained pair's cache key; its
    evaluation must not be served to (or from) the trained models. Once, test order decided
    which numbers a test saw."""
    from conftest import untrained_lm_pair

    t, _ = lm
    fake = untrained_lm_pair()
    assert fake.data.model_key("original") == t.data.model_key("original")
    for first, second in ((fake, t), (t, fake)):
        a = evaluate_lm({"original": first.original, "unlearned": first.original,
                         "oracle": t.oracle}, t.data, seed=0)[0]
        b = evaluate_lm({"original": second.original, "unlearned": second.original,
                         "oracle": t.oracle}, t.data, seed=0)[0]
        assert a["Exact match (D_f)"]["original"] == a["Exact match (D_f)"]["unlearned"]
        assert b["Exact match (D_f)"]["original"] == b["Exact match (D_f)"]["unlearned"]
        assert a["Exact match (D_f)"]["original"] != b["Exact match (D_f)"]["original"]
