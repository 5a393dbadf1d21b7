"""Causal language models: a small GPT-2 built from scratch, or any local Hugging Face model.

Loading never downloads (``local_files_only=True``) and never runs code from the model
directory (``trust_remote_code=False``; weights from safetensors when present).
"""

from __future__ import annotations

from dataclasses import dataclass
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

from obliviate.errors import ConfigError, DataError
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


@dataclass(frozen=True)
class LoraSpec:
    """A LoRA adapter (Hu et al. 2022): rank ``r``, scale ``alpha / r``, on ``targets``.

    ``targets`` None means PEFT's default for the architecture (q_proj and v_proj for Llama,
    c_attn for GPT-2: the paper's query and value projections). ``alpha`` 16 at ``r`` 8 is
    PEFT's usual pairing.
    """

    r: int = 8
    alpha: int = 16
    targets: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.r < 1 or self.alpha < 1 or (self.targets is not None and not self.targets):
            raise ConfigError(f"LoRA: r={self.r} and alpha={self.alpha} must be >= 1 and "
                              f"targets={self.targets} non-empty")


def lora_spec(value: bool | str) -> LoraSpec | None:
    """``--lora`` (True or ""): the defaults; ``--lora r=8,targets=q_proj,v_proj``: those
    fields (a name without ``=`` continues the targets list); False: no adapter."""
    if value is False:
        return None
    if value is True or not value.strip():
        return LoraSpec()
    fields: dict[str, list[str]] = {}
    key = None
    for part in (p.strip() for p in value.split(",")):
        name, eq, rest = part.partition("=")
        if eq:
            key = name.strip()
            if key not in ("r", "alpha", "targets"):
                raise ConfigError(f"--lora {value!r}: unknown key {key!r}; valid keys: r, "
                                  "alpha, targets (e.g. r=8,targets=q_proj,v_proj)")
            fields[key] = [rest.strip()]
        elif key == "targets" and part:
            fields[key].append(part)
        else:
            raise ConfigError(f"--lora {value!r}: expected KEY=VALUE items, e.g. "
                              "r=8,targets=q_proj,v_proj")
    try:
        r, alpha = (int(fields[k][0]) if k in fields else d for k, d in (("r", 8),
                                                                       ("alpha", 16)))
    except ValueError:
        raise ConfigError(f"--lora {value!r}: r and alpha must be whole numbers") from None
    targets = tuple(t for t in fields["targets"] if t) if "targets" in fields else None
    return LoraSpec(r=r, alpha=alpha, targets=targets)


def add_lora(model: nn.Module, spec: LoraSpec | None = None) -> nn.Module:
    """Wrap ``model`` with a LoRA adapter (PEFT): only the adapter's weights will train."""
    from peft import LoraConfig, get_peft_model
    from transformers.pytorch_utils import Conv1D

    spec = spec or LoraSpec()
    # GPT-2 style models store weights transposed (Conv1D): LoRA must know, or it warns and
    # guesses.
    transposed = any(isinstance(m, Conv1D) for m in model.modules())
    if spec.targets is not None:
        names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
        missing = [t for t in spec.targets if t not in names]
        if missing:
            raise ConfigError(f"LoRA targets {missing} are not modules of "
                              f"{type(model).__name__}; it has e.g. "
                              f"{sorted(n for n in names if n and not n.isdigit())[:8]}")
    cfg = LoraConfig(r=spec.r, lora_alpha=spec.alpha, lora_dropout=0.0, bias="none",
                     target_modules=list(spec.targets) if spec.targets else None,
                     fan_in_fan_out=transposed, task_type="CAUSAL_LM")
    return get_peft_model(model, cfg)
