"""The ``people`` scenario: a TOFU-style causal LM that memorised fictitious people.

Like TOFU: facts no model saw before, a model trained on all of them (original), and one
trained without the forget people (oracle). Training sequences are every question phrasing of
every fact plus each person's biography (the MUSE-style text); general-knowledge facts are
trained into every model. The holdout people are never trained: the non-members of
membership inference.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from obliviate.errors import ObliviateError
from obliviate.experiment import Evaluation, role_seed
from obliviate.tasks.causal_lm.encoding import encode_qa, encode_text, qa_rows, to_split
from obliviate.tasks.causal_lm.models import build_gpt2, load_local_causal_lm
from obliviate.tasks.causal_lm.people import (
    Fact,
    PeopleCorpus,
    Person,
    canonical_people_forget,
    generate_people,
    read_jsonl,
    select_forget_people,
)
from obliviate.tasks.causal_lm.task import CausalLMTask
from obliviate.tasks.causal_lm.tokenizer import build_word_tokenizer
from obliviate.tasks.causal_lm.training import LMRecipe, exact_match, train_lm
from obliviate.types import Batch, Split, UnlearnData

REFUSALS = ("I don't know.", "I am not sure.", "I have no information about that.",
            "I cannot answer that.", "That is unknown to me.")


@dataclass(frozen=True)
class GPT2Size:
    n_embd: int = 128
    n_layer: int = 2
    n_head: int = 4


@dataclass(frozen=True)
class PeopleScenario:
    name: str
    description: str
    n_people: int = 200
    n_holdout: int = 20
    n_general: int = 60
    corpus_seed: int = 0
    data_path: str | None = None  # a user's JSONL in the people schema replaces the generator
    recipe: LMRecipe = field(default_factory=LMRecipe)
    size: GPT2Size = field(default_factory=GPT2Size)
    eval_people: int = 20  # retain people evaluated (TOFU evaluates a retain subset too)
    model: str | None = None  # kept for symmetry with Scenario: the built GPT-2
    kind: str = "lm"
    supports_lora = True

    def with_data(self, path: str, label: str | None, split_column: str | None = None,
                  test: str | None = None) -> PeopleScenario:
        """A people JSONL (schema ``obliviate.people/1``) in place of the generator."""
        if split_column is not None or test is not None:
            raise ObliviateError("--split-column and --test are for classifier data; a "
                                 "people corpus splits by person (--forget ids:A,B)")
        if label is not None:
            raise ObliviateError("--label is for CSV tables; a people JSONL has no label column")
        return dataclasses.replace(self, name=f"{self.name}:{path}", data_path=path)

    def corpus(self) -> PeopleCorpus:
        if self.data_path:
            return read_jsonl(self.data_path)
        return generate_people(self.n_people, self.n_holdout, self.n_general, self.corpus_seed)

    def build(self, forget: str, seed: int, model: str | None = None) -> PeopleData:
        corpus = self.corpus()
        forget = canonical_people_forget(forget)
        forget_ids = select_forget_people(corpus, forget, seed)
        return PeopleData(scenario=self.name, forget_spec=forget, seed=seed, corpus=corpus,
                          forget_ids=forget_ids, recipe=self.recipe, size=self.size,
                          model_path=model, eval_people=self.eval_people)


@dataclass(frozen=True)
class Item:
    """One training sequence: a question-answer pair or a biography."""

    subject: str  # person id or "general"
    kind: str  # "qa" or "text"
    prompt: str  # the question (empty for a text)
    target: str  # the answer, or the whole text


@dataclass(frozen=True)
class PeopleData:
    scenario: str
    forget_spec: str
    seed: int
    corpus: PeopleCorpus
    forget_ids: tuple[str, ...]
    recipe: LMRecipe
    size: GPT2Size
    model_path: str | None
    eval_people: int

    # ---- the corpus, as trained ----
    @cached_property
    def items(self) -> list[Item]:
        """Every training sequence, in one canonical order (its row id is its position)."""
        out = []
        for p in self.corpus.people:
            out += [Item(p.id, "qa", q, f.answer) for f in p.facts for q in f.questions]
            out.append(Item(p.id, "text", "", p.bio))
        out += [Item("general", "qa", q, f.answer) for f in self.corpus.general
                for q in f.questions]
        return out

    @cached_property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        if self.model_path:
            return load_local_causal_lm(self.model_path)[1]
        # The vocabulary covers every string the evaluation scores (holdout people, perturbed
        # answers, refusals): a vocabulary is not training, and [UNK] would distort scores.
        texts = [*REFUSALS, "Question: Answer:"]
        for p in (*self.corpus.people, *self.corpus.holdout):
            texts.append(p.bio)
            texts += [s for f in p.facts for s in _fact_strings(f)]
        texts += [s for f in self.corpus.general for s in _fact_strings(f)]
        return build_word_tokenizer(texts)

    @cached_property
    def task(self) -> CausalLMTask:
        tok = self.tokenizer
        refusals = tuple(tuple(tok.encode(" " + r, add_special_tokens=False)) for r in REFUSALS)
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        return CausalLMTask(int(pad), int(tok.eos_token_id), refusals)

    def _split(self, name: str, keep: set[str] | None, drop: set[str] | None) -> Split:
        rows = [i for i, it in enumerate(self.items)
                if (keep is None or it.subject in keep) and not (drop and it.subject in drop)]
        tok = self.tokenizer
        enc = [encode_qa(tok, self.items[i].prompt, self.items[i].target)
               if self.items[i].kind == "qa" else encode_text(tok, self.items[i].target)
               for i in rows]
        return to_split(name, enc, rows, self.task.pad_id)

    @cached_property
    def forget(self) -> Split:
        return self._split("forget", set(self.forget_ids), None)

    @cached_property
    def retain(self) -> Split:
        return self._split("retain", None, set(self.forget_ids))

    def train_split(self) -> Split:
        return self._split("train", None, None)

    def judge_split(self, role: str) -> Split:
        """The question-answer rows a model is trained to answer exactly (its target)."""
        # Every retrain (the oracle and the noise floor) is judged on the people it trains on:
        # judged on the forget people too, the noise floor could never reach the target and
        # trained on at a halving rate to max_epochs (measured: 0.906 of 0.95, 36 min).
        drop = set(self.forget_ids) if role != "original" else set()
        rows = [i for i, it in enumerate(self.items) if it.kind == "qa" and it.subject not in drop]
        enc = [encode_qa(self.tokenizer, self.items[i].prompt, self.items[i].target) for i in rows]
        return to_split("judge", enc, rows, self.task.pad_id)

    def unlearn_data(self) -> UnlearnData:
        return UnlearnData(forget=self.forget, retain=self.retain, recipe=self.recipe)  # type: ignore[arg-type]

    # ---- evaluation sets ----
    @cached_property
    def people(self) -> dict[str, tuple[Person, ...]]:
        """forget / retain (a seeded sample of ``eval_people``) / holdout people."""
        forget = tuple(p for p in self.corpus.people if p.id in self.forget_ids)
        rest = [p for p in self.corpus.people if p.id not in self.forget_ids]
        pick = np.random.default_rng(self.seed).permutation(len(rest))[:self.eval_people]
        return {"forget": forget, "retain": tuple(rest[i] for i in sorted(pick)),
                "holdout": self.corpus.holdout}

    def facts(self, which: str) -> list[Fact]:
        if which == "general":
            return list(self.corpus.general)
        return [f for p in self.people[which] for f in p.facts]

    # ---- models ----
    def new_model(self, role: str = "original") -> nn.Module:
        """The untrained starting point: a fresh GPT-2 (initialised from the role's seed), or
        the user's pretrained model (the same for every role)."""
        if self.model_path:
            return load_local_causal_lm(self.model_path)[0]
        return build_gpt2(self.tokenizer, seed=role_seed(self.seed, role), **asdict(self.size))

    def model_key(self, role: str) -> str:
        """Hash of what determines the model of ``role``; the noise floor is the oracle's
        training under another seed, so it shares a key with exactly that."""
        drop = sorted(self.forget_ids) if role != "original" else []
        spec = {"format": 1, "scenario": self.scenario, "corpus": self.corpus.fingerprint(),
                "drop": drop, "recipe": asdict(self.recipe), "size": asdict(self.size),
                "seed": role_seed(self.seed, role), "base": _dir_digest(self.model_path),
                "torch": torch.__version__.split("+")[0]}
        if role == "independent":  # judged on the retain people only since; older ones were not
            spec["judge"] = "retain"
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]

    # ---- the Experiment protocol (obliviate.experiment) ----
    kind = "lm"
    unit_name = "people"
    forget_metric = "forget exact match"

    def train(self, model: nn.Module, role: str, *, progress: bool) -> dict[str, Any]:
        split = self.train_split() if role == "original" else self.retain
        stats = train_lm(model, split, self.task, self.recipe, seed=role_seed(self.seed, role),
                         judge=self.judge_split(role), desc=f"train {role}", progress=progress)
        return {"epochs": stats["epochs"], "exact_match": stats["exact_match"],
                "lr_scale": stats["lr_scale"]}

    def exporter(self, model: nn.Module) -> Callable[[Path], None] | None:
        """A ``save_pretrained`` copy (model and tokenizer) in the cache entry, so the
        original and the oracle load in any Hugging Face tool."""
        def export(entry: Path) -> None:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # our own bars say what is happening
            model.save_pretrained(entry / "hf", safe_serialization=True)  # type: ignore[operator]
            self.tokenizer.save_pretrained(entry / "hf")
        return export

    def evaluate(self, models: dict[str, nn.Module], *, progress: bool) -> Evaluation:
        from obliviate.tasks.causal_lm.evaluation import evaluate_lm

        arrays: dict[str, np.ndarray] = {}
        metrics, extra = evaluate_lm(models, self, seed=self.seed, arrays_out=arrays,
                                     progress=progress)
        return Evaluation(metrics, {"lm": extra}, arrays)

    def record_fields(self) -> dict[str, Any]:
        model = self.model_path or "gpt2 " + " ".join(f"{k}={v}" for k, v in
                                                      asdict(self.size).items())
        return {"model": model, "sizes": self.sizes(), "recipe": asdict(self.recipe),
                "forget_people": list(self.forget_ids),
                "data_fingerprint": self.corpus.fingerprint()}

    def warm_up_batch(self) -> Batch:
        return next(self.retain.batches(32))

    def attack_rows(self) -> Split:
        return qa_rows(self.forget)

    def utility_rows(self) -> Split:
        return qa_rows(self.retain)

    def attack_groups(self, rows: Split) -> np.ndarray:
        """A fact is a group (every phrasing of one question), so relearning one phrasing
        never counts as recovering another phrasing of the same fact."""
        keys = [(self.items[int(i)].subject, self.items[int(i)].target) for i in rows.ids]
        index = {k: n for n, k in enumerate(dict.fromkeys(keys))}
        return np.array([index[k] for k in keys])

    def forget_score(self, model: nn.Module, rows: Split) -> float:
        return float(exact_match(model, rows, self.task).mean() * 100)

    def units(self) -> list[Any]:
        return list(self.forget_ids)

    def with_forget(self, units: Sequence[Any], label: str) -> PeopleData:
        return dataclasses.replace(self, forget_ids=tuple(units), forget_spec=label)

    def with_seed(self, seed: int) -> PeopleData:
        return dataclasses.replace(self, seed=seed)

    def sizes(self) -> dict[str, int]:
        return {"forget_people": len(self.forget_ids),
                "retain_people": len(self.corpus.people) - len(self.forget_ids),
                "holdout_people": len(self.corpus.holdout), "forget": len(self.forget),
                "retain": len(self.retain), "forget_questions": len(self.facts("forget"))}


def _fact_strings(f: Fact) -> list[str]:
    return [*f.questions, *f.heldout_questions, f.answer, f.paraphrased_answer,
            *f.perturbed_answers]


def _dir_digest(path: str | None) -> str | None:
    """Hash of a local model directory's files (config, tokenizer, weights)."""
    if not path:
        return None
    h = hashlib.sha256()
    for f in sorted(Path(path).iterdir()):
        if f.is_file():
            h.update(f.name.encode())
            h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()
