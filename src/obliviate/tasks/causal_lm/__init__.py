"""Causal language models: the task (answer tokens only), the people corpus, the tokenizer and
models, the exact-match training recipe and the TOFU / MUSE evaluation suite."""

from obliviate.tasks.causal_lm.task import CausalLMTask

__all__ = ["CausalLMTask"]
