"""Causal language models: a small GPT-2 built from scratch, or any local Hugging Face model.

Loading never downloads (``local_files_only=True``) and never runs code from the model
directory (``trust_remote_code=False``; weights from safetensors when present).
"""

from __future__ import annotations

from pathlib import Path

from torch import nn
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from obliviate.errors import DataError
from obliviate.seeding import seeded


def build_gpt2(tokenizer: PreTrainedTokenizerBase, *, n_embd: int = 128, n_layer: int = 2,
               n_head: int = 4, n_positions: int = 256, seed: int = 0) -> GPT2LMHeadModel:
    """A GPT-2 sized for memorising a few thousand facts on a CPU (about 0.8M parameters with
    a 3,000-word vocabulary). No dropout: the task is memorisation, as in TOFU's fine-tuning."""
    cfg = GPT2Config(vocab_size=len(tokenizer), n_positions=n_positions, n_embd=n_embd,
                     n_layer=n_layer, n_head=n_head, resid_pdrop=0.0, embd_pdrop=0.0,
                     attn_pdrop=0.0, bos_token_id=tokenizer.bos_token_id,
                     eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    with seeded(seed):
        return GPT2LMHeadModel(cfg).eval()


def load_local_causal_lm(path: str | Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A causal LM and its tokenizer from a local directory (``save_pretrained`` layout)."""
    p = Path(path)
    if not p.is_dir() or not (p / "config.json").is_file():
        raise DataError(f"model directory {str(p)!r} does not exist or has no config.json "
                        "(expected a Hugging Face save_pretrained directory)")
    try:
        tok = AutoTokenizer.from_pretrained(p, local_files_only=True, trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(p, local_files_only=True,
                                                     trust_remote_code=False)
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"cannot load a causal LM from {str(p)!r}: "
                        f"{str(e).strip().splitlines()[0]}") from None
    if tok.eos_token_id is None:
        raise DataError(f"{str(p)!r}: the tokenizer has no EOS token; answers need one")
    return model.eval(), tok


def add_lora(model: nn.Module, *, r: int = 8, alpha: int = 16,
             target_modules: tuple[str, ...] | None = None) -> nn.Module:
    """Wrap ``model`` with a LoRA adapter (PEFT): only the adapter's weights will train."""
    from peft import LoraConfig, get_peft_model
    from transformers.pytorch_utils import Conv1D

    # GPT-2 style models store weights transposed (Conv1D): LoRA must know, or it warns and
    # guesses.
    transposed = any(isinstance(m, Conv1D) for m in model.modules())
    cfg = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0, bias="none",
                     target_modules=list(target_modules) if target_modules else None,
                     fan_in_fan_out=transposed, task_type="CAUSAL_LM")
    return get_peft_model(model, cfg)
