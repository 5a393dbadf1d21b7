"""Chat templates and LoRA options for Llama-family models, on a tiny Llama converted from a
GGUF file the test writes (the path ``obliviate models fetch`` takes for SmolLM2)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from conftest import TINY_PEOPLE
from lm_tiny import tiny_gguf
from obliviate.errors import ConfigError
from obliviate.runner import RunSpec, Workspace, prepare, run
from obliviate.scenarios import SCENARIOS
from obliviate.tasks.causal_lm.encoding import IGNORE, encode_qa, prompt_ids
from obliviate.tasks.causal_lm.models import LoraSpec, add_lora, load_local_causal_lm, lora_spec
from obliviate.tasks.causal_lm.pretrained import convert_gguf
from obliviate.tasks.causal_lm.training import LMRecipe

TEXTS = [s for p in TINY_PEOPLE.corpus().people for s in (p.bio, *(f.answer for f in p.facts))]


@pytest.fixture(scope="module")
def chat_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("chat")
    tiny_gguf(root / "tiny.gguf", TEXTS)
    convert_gguf(root / "tiny.gguf", root / "hf")
    return root / "hf"


def test_questions_go_through_the_chat_template(chat_dir: Path) -> None:
    _, tok = load_local_causal_lm(chat_dir)
    ids, labels = encode_qa(tok, "Where was Ada born?", "In Lyon.")
    n = len(prompt_ids(tok, "Where was Ada born?"))
    # The template's text, written out by hand (system turn added when none is given).
    assert tok.decode(ids[:n]) == ("<|im_start|>system\nYou are tiny.<|im_end|>\n"
                                   "<|im_start|>user\nWhere was Ada born?<|im_end|>\n"
                                   "<|im_start|>assistant\n")
    assert tok.decode(ids[n:]) == "In Lyon.<|im_end|>"  # the reply, ended by end-of-turn
    assert labels[:n] == [IGNORE] * n and labels[n:] == ids[n:]


def test_lora_spec_parses_the_flag() -> None:
    assert lora_spec(False) is None
    assert lora_spec(True) == lora_spec("") == LoraSpec(8, 16, None)
    assert lora_spec("r=4,targets=q_proj,v_proj") == LoraSpec(4, 16, ("q_proj", "v_proj"))
    assert lora_spec("targets=o_proj, alpha=8") == LoraSpec(8, 8, ("o_proj",))
    for bad, said in (("rank=4", "unknown key 'rank'; valid keys: r, alpha, targets"),
                      ("r=four", "whole numbers"), ("r=0", "must be >= 1"),
                      ("q_proj", "expected KEY=VALUE")):
        with pytest.raises(ConfigError, match=said):
            lora_spec(bad)


def test_lora_trains_only_adapters_on_the_named_modules(chat_dir: Path) -> None:
    model, _ = load_local_causal_lm(chat_dir)
    peft = add_lora(model, LoraSpec(r=4, targets=("q_proj", "v_proj")))
    trainable = {n: p.numel() for n, p in peft.named_parameters() if p.requires_grad}
    assert all(".q_proj.lora_" in n or ".v_proj.lora_" in n for n in trainable)
    # Per block: q is 32 -> 32 (A 4x32, B 32x4), v is 32 -> 16 (2 kv heads of 8: A 4x32,
    # B 16x4): 4 * (64 + 48) = 448; two blocks 896.
    assert sum(trainable.values()) == 896
    with pytest.raises(ConfigError, match=r"LoRA targets \['c_attn'\] are not modules"):
        add_lora(load_local_causal_lm(chat_dir)[0], LoraSpec(targets=("c_attn",)))


def test_people_on_a_chat_llama_fine_tuned_and_unlearned_through_lora(
        chat_dir: Path, tmp_path: Path) -> None:
    """``--model DIR`` with a chat template, unlearned with ``--lora r=4,targets=...``: the
    pipeline runs on the Llama path end to end, and only the adapter moved the model."""
    scenario = dataclasses.replace(TINY_PEOPLE, name="people-tiny-chat",
                                   recipe=LMRecipe(max_epochs=2, lr=5e-3, check_every=1,
                                                   warmup_steps=5))
    SCENARIOS[scenario.name] = scenario
    ws = Workspace(tmp_path / "home")
    spec = RunSpec("ga", "people:0.34", scenario.name, 0, model=str(chat_dir),
                   lora="r=4,targets=q_proj,v_proj", noise_floor=False,
                   overrides={"lr": 1e-2, "epochs": 1, "batch_size": 8})
    trained = prepare(spec, ws, progress=False)
    record, path = run(spec, ws, trained=trained, progress=False)
    assert path.is_file() and record["scenario"]["model"] == str(chat_dir)
    # q_proj 32x32 and v_proj 16x32 in each of 2 blocks: at most 3,072 weights can move.
    assert 0 < record["effect"]["changed_parameters"] <= 2 * (32 * 32 + 16 * 32)
    assert record["metrics"]["Model utility"]["unlearned"] is not None
