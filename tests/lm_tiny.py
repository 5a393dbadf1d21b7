"""A tiny randomly initialised Llama with a byte-level BPE tokenizer and a chat template, the
same family as SmolLM2 (tests never touch the real model), and a GGUF file written from it
with the ``gguf`` package's own writer, as llama.cpp's converter lays one out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# SmolLM2's template, system prompt shortened.
CHAT = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
        "{{ '<|im_start|>system\nYou are tiny.<|im_end|>\n' }}{% endif %}"
        "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
HEADS, KV_HEADS, WIDTH, LAYERS = 4, 2, 32, 2


def bpe(texts: list[str], vocab_size: int = 400) -> tuple[list[str], list[str]]:
    """(tokens in id order, merges) of a byte-level BPE trained on ``texts``."""
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tk.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    js = json.loads(tk.to_str())
    tokens = [t for t, _ in sorted(js["model"]["vocab"].items(), key=lambda kv: kv[1])]
    merges = [m if isinstance(m, str) else " ".join(m) for m in js["model"]["merges"]]
    return tokens, merges


def tiny_llama(vocab: int, seed: int = 0) -> LlamaForCausalLM:
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=WIDTH, intermediate_size=2 * WIDTH,
                      num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                      num_key_value_heads=KV_HEADS, max_position_embeddings=256,
                      bos_token_id=1, eos_token_id=2, pad_token_id=2,
                      tie_word_embeddings=True, rope_theta=10000.0, rms_norm_eps=1e-6)
    torch.manual_seed(seed)
    return LlamaForCausalLM(cfg).eval()


def _permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's q/k row order (convert_hf_to_gguf.py ``permute``); transformers undoes it."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


_NAMES = {"self_attn.q_proj.weight": "attn_q", "self_attn.k_proj.weight": "attn_k",
          "self_attn.v_proj.weight": "attn_v", "self_attn.o_proj.weight": "attn_output",
          "mlp.gate_proj.weight": "ffn_gate", "mlp.up_proj.weight": "ffn_up",
          "mlp.down_proj.weight": "ffn_down", "input_layernorm.weight": "attn_norm",
          "post_attention_layernorm.weight": "ffn_norm"}


def write_gguf(path: Path, model: LlamaForCausalLM, tokens: list[str],
               merges: list[str]) -> None:
    import gguf

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny")
    w.add_block_count(LAYERS)
    w.add_context_length(256)
    w.add_embedding_length(WIDTH)
    w.add_feed_forward_length(2 * WIDTH)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_vocab_size(len(tokens))
    w.add_rope_dimension_count(WIDTH // HEADS)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types([3] * len(SPECIAL) + [1] * (len(tokens) - len(SPECIAL)))
    w.add_token_merges(merges)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_pad_token_id(2)
    w.add_add_bos_token(False)
    w.add_chat_template(CHAT)
    for k, v in model.state_dict().items():
        a = v.numpy().astype(np.float32)
        if k == "lm_head.weight":  # tied to the embedding
            continue
        if k == "model.embed_tokens.weight":
            w.add_tensor("token_embd.weight", a)
        elif k == "model.norm.weight":
            w.add_tensor("output_norm.weight", a)
        else:
            layer, rest = k.split(".")[2], ".".join(k.split(".")[3:])
            name = _NAMES[rest]
            if name in ("attn_q", "attn_k"):
                a = _permute(a, HEADS if name == "attn_q" else KV_HEADS)
            w.add_tensor(f"blk.{layer}.{name}.weight", a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def tiny_gguf(path: Path, texts: list[str], seed: int = 0) -> LlamaForCausalLM:
    """Write a tiny Llama GGUF at ``path``; returns the model it holds."""
    tokens, merges = bpe(texts)
    model = tiny_llama(len(tokens), seed)
    write_gguf(path, model, tokens, merges)
    return model
