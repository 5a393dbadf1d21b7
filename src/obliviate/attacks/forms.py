"""Form attack: the same forgotten facts, asked in forms the unlearning never saw.

The ORT benchmark's point (Jin et al., "RWKU"; "Unlearning should be form-independent"):
a method that only learned to refuse the training phrasing still answers when the fact is
asked differently. Three forms per forget fact, each scored like the plain questions:
* held-out template: the fact's held-out phrasings (never trained), exact-match answers;
* fill-in-the-blank: the fact stated as a sentence cut before its value ("X was born in
  ___"), exact match of the value continuing it;
* multiple choice: the true value against the perturbed values of the same type, each as an
  answer to the question; the model picks the most likely (length-normalised NLL), so chance
  is 1 / (1 + number of wrong values). Our small models never saw a lettered-option prompt,
  so choosing by likelihood is the form every model can take.
"before" is exact match with the trained phrasings on the same facts. The same forms on
retain people are reported beside ("retain"): a form the model fails on retained facts says
nothing about forgetting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from obliviate.attacks.target import Target
from obliviate.tasks.causal_lm.encoding import encode_cloze, encode_qa, to_split
from obliviate.tasks.causal_lm.people_io import Fact
from obliviate.tasks.causal_lm.scenario import PeopleData
from obliviate.tasks.causal_lm.training import exact_match

FORMS = ("held-out template", "fill-in-the-blank", "multiple choice")


@dataclass(frozen=True)
class FormsConfig:
    max_choices: int = 4  # the true value and up to 3 wrong ones: chance 25%

    def __post_init__(self) -> None:
        if not self.max_choices >= 2:
            raise ValueError(f"FormsConfig: max_choices={self.max_choices} must be >= 2")


def wrong_values(f: Fact) -> list[str]:
    """The wrong values inside the perturbed answers (each is the paraphrase with another
    value in place of the answer, so prefix and full stop are shared)."""
    prefix = cloze_prefix(f)
    return [p[len(prefix):].strip().rstrip(".") for p in f.perturbed_answers
            if p.startswith(prefix)]


def cloze_prefix(f: Fact) -> str:
    """The paraphrased answer cut just before the value ("X was born in")."""
    sentence = f.paraphrased_answer.rstrip()
    if not sentence.endswith(f.answer + "."):
        raise ValueError(f"fact {f.subject}/{f.attribute}: its paraphrased answer "
                         f"{f.paraphrased_answer!r} does not end with its answer {f.answer!r}")
    return sentence[:-len(f.answer) - 1].rstrip()


def form_scores(model: nn.Module, facts: list[Fact], target: Target,
                cfg: FormsConfig) -> dict[str, float]:
    """% of ``facts`` answered correctly in each form (and with the trained phrasings)."""
    data = _people(target)
    tok, task = data.tokenizer, data.task

    def em(items: list[tuple[list[int], list[int]]]) -> float:
        split = to_split("form", items, range(len(items)), task.pad_id)
        return float(exact_match(model, split, task).mean() * 100)

    out = {"trained template": em([encode_qa(tok, q, f.answer) for f in facts
                                   for q in f.questions]),
           "held-out template": em([encode_qa(tok, q, f.answer) for f in facts
                                    for q in f.heldout_questions]),
           "fill-in-the-blank": em([encode_cloze(tok, cloze_prefix(f), f.answer)
                                    for f in facts])}
    options = [[f.answer, *wrong_values(f)][:cfg.max_choices] for f in facts]
    rows = [encode_qa(tok, f.questions[0], o) for f, opts in zip(facts, options, strict=True)
            for o in opts]
    split = to_split("choices", rows, range(len(rows)), task.pad_id)
    dev = next(model.parameters()).device
    with torch.no_grad():
        nll = torch.cat([task.per_sample_loss(model, b.to(dev)).cpu()
                         for b in split.batches(256)]).numpy()
    right, at = [], 0
    for opts in options:
        right.append(int(np.argmin(nll[at:at + len(opts)])) == 0)
        at += len(opts)
    out["multiple choice"] = float(np.mean(right) * 100)
    return out


def _people(target: Target) -> PeopleData:
    """The attack is declared for language-model runs only (``ATTACKS["forms"].kinds``,
    checked by ``parse_attacks``), whose experiment is the people scenario's."""
    return cast(PeopleData, target.data)


def attack(target: Target, cfg: FormsConfig) -> dict[str, Any]:
    data = _people(target)
    forget, retain = data.facts("forget"), data.facts("retain")
    scores = {r: form_scores(m, forget, target, cfg) for r, m in target.models.items()}
    kept = {r: form_scores(m, retain, target, cfg) for r, m in target.models.items()}
    variants = {form: {"before": {r: s["trained template"] for r, s in scores.items()},
                       "after": {r: s[form] for r, s in scores.items()},
                       "retain": {r: s[form] for r, s in kept.items()}}
                for form in FORMS}
    chance = float(np.mean([100 / min(cfg.max_choices, 1 + len(wrong_values(f)))
                            for f in forget]))
    return {"variants": variants, "params": {"facts": len(forget),
                                             "multiple_choice_chance": chance}}
