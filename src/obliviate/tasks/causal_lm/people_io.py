"""The ``people`` records (facts, people, corpus) and their JSONL file, ``obliviate.people/1``.

Line 1 is a header ``{"schema": "obliviate.people/1", "seed": ..., "n_people": ...,
"n_holdout": ..., "n_general": ...}`` (only ``schema`` is required; the counts, when given, must
match the body). Then one line per person ``{"kind": "person", "split": "member"|"holdout",
"id", "name", "attributes", "bio", "facts"}`` and one per general fact ``{"kind": "general",
...fact fields}``, the fact fields named as in :class:`Fact`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from obliviate.errors import DataError
from obliviate.storage.atomic import atomic_write

SCHEMA = "obliviate.people/1"
GENERAL = "general"  # the subject of every general-knowledge fact
HEADER_KEYS = ("schema", "seed", "n_people", "n_holdout", "n_general")
PERSON_KEYS = ("kind", "split", "id", "name", "attributes", "bio", "facts")
SPLITS = ("member", "holdout")
ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")  # no commas or spaces: ids appear in "ids:A,B"
# Least counts a reader accepts (the generator writes 3 questions, 2 held out, 5 perturbed).
MIN_QUESTIONS, MIN_HELDOUT, MIN_PERTURBED = 3, 1, 3


@dataclass(frozen=True)
class Fact:
    """One question-answer fact about a person (or about the fictional world)."""

    subject: str  # the person's id, or "general"
    attribute: str  # e.g. "birthplace"; for general facts e.g. "capital of Veloria"
    questions: tuple[str, ...]  # >= 3 phrasings, all used in training
    heldout_questions: tuple[str, ...]  # other phrasings, never trained (paraphrase attacks)
    answer: str  # the value phrase only, e.g. "a marine biologist"
    paraphrased_answer: str  # a sentence that ends with the answer and a full stop
    perturbed_answers: tuple[str, ...]  # the paraphrase with wrong values of the same type


@dataclass(frozen=True)
class Person:
    id: str  # "p000".. for members, "h000".. for holdout people
    name: str
    attributes: dict[str, str]  # attribute -> value (the answer of its fact)
    bio: str  # a few sentences stating every attribute value verbatim
    facts: tuple[Fact, ...]


@dataclass(frozen=True)
class PeopleCorpus:
    people: tuple[Person, ...]  # trained people (members); forget sets are drawn from these
    holdout: tuple[Person, ...]  # never trained: non-members for membership inference
    general: tuple[Fact, ...]  # general-knowledge facts trained into every model
    seed: int | None = None  # the generator's seed; None for a user's own data

    def fingerprint(self) -> str:
        """sha256 of the file form: changes whenever any question, answer or bio does."""
        h = hashlib.sha256()
        for line in _lines(self):
            h.update(line.encode())
        return h.hexdigest()


FACT_KEYS = tuple(f.name for f in fields(Fact))


def write_jsonl(corpus: PeopleCorpus, path: str | Path) -> None:
    """Write ``corpus`` to ``path`` atomically (a temporary file renamed into place)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(p, lambda f: f.writelines(_lines(corpus)))


def _lines(corpus: PeopleCorpus) -> list[str]:
    header = {"schema": SCHEMA, "seed": corpus.seed, "n_people": len(corpus.people),
              "n_holdout": len(corpus.holdout), "n_general": len(corpus.general)}
    rows: list[dict[str, Any]] = [header]
    for split, group in (("member", corpus.people), ("holdout", corpus.holdout)):
        rows += [{"kind": "person", "split": split, "id": person.id, "name": person.name,
                  "attributes": dict(person.attributes), "bio": person.bio,
                  "facts": [_fact_json(f) for f in person.facts]} for person in group]
    rows += [{"kind": GENERAL, **_fact_json(f)} for f in corpus.general]
    return [json.dumps(r, ensure_ascii=False) + "\n" for r in rows]


def _fact_json(f: Fact) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v
            for k, v in ((k, getattr(f, k)) for k in FACT_KEYS)}


def read_jsonl(path: str | Path) -> PeopleCorpus:
    """Read and validate a people file; any problem raises ``DataError`` naming file, line and
    field."""
    p = Path(path)
    try:
        is_file = p.is_file()
    except OSError as e:  # a name too long, ...
        raise DataError(f"people file {str(p)!r}: {e.strerror or e}") from None
    if not is_file:
        raise DataError(f"people file {str(p)!r} does not exist or is not a file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{p.name}: cannot read the people file ({e})") from None
    # split("\n"), not splitlines(): JSON strings may hold U+2028 and other line breaks.
    rows = [(n, line) for n, line in enumerate(text.split("\n"), start=1) if line.strip()]
    if not rows:
        raise DataError(f"{p.name}: the file is empty; expected a header line "
                        f'{{"schema": "{SCHEMA}", ...}} and one line per person')
    header = _header(p.name, *rows[0])
    members: list[Person] = []
    holdout: list[Person] = []
    general: list[Fact] = []
    seen: dict[tuple[str, str], int] = {}  # (what, value) -> the line it was first seen on
    for n, line in rows[1:]:
        r = _Row(p.name, n, _json_object(p.name, n, line))
        kind = r.text("kind")
        if kind == "person":
            r.keys(PERSON_KEYS)
            person, split = _person(r)
            _once(seen, p.name, n, ("person id", person.id), ("person name", person.name))
            (members if split == "member" else holdout).append(person)
        elif kind == GENERAL:
            r.keys(("kind", *FACT_KEYS))
            fact = _fact(r, "")
            if fact.subject != GENERAL:
                raise DataError(f"{p.name}: line {n}: field 'subject' of a general fact must "
                                f"be {GENERAL!r}, got {fact.subject!r}")
            _once(seen, p.name, n, ("general fact attribute", fact.attribute))
            general.append(fact)
        else:
            raise DataError(f"{p.name}: line {n}: field 'kind' must be 'person' or "
                            f"{GENERAL!r}, got {kind!r}")
    if not members:
        raise DataError(f"{p.name}: no member people (lines with \"split\": \"member\")")
    for key, got in (("n_people", members), ("n_holdout", holdout), ("n_general", general)):
        if header.get(key) is not None and header[key] != len(got):
            raise DataError(f"{p.name}: line {rows[0][0]} declares {key}={header[key]} but the "
                            f"file holds {len(got)} (is it truncated?)")
    return PeopleCorpus(tuple(members), tuple(holdout), tuple(general), header.get("seed"))


def _json_object(file: str, n: int, line: str) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except ValueError as e:
        raise DataError(f"{file}: line {n} is not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{file}: line {n} must be a JSON object, got {type(obj).__name__}")
    return obj


def _header(file: str, n: int, line: str) -> dict[str, Any]:
    obj = _json_object(file, n, line)
    if "schema" not in obj:
        raise DataError(f'{file}: line {n} must be the header {{"schema": "{SCHEMA}", ...}}; '
                        f"it has no 'schema' field (keys: {', '.join(sorted(obj))})")
    if obj["schema"] != SCHEMA:
        raise DataError(f"{file}: line {n}: unknown schema {obj['schema']!r}; this version of "
                        f"obliviate reads {SCHEMA!r}")
    r = _Row(file, n, obj)
    r.keys(HEADER_KEYS, required=("schema",))
    for key in HEADER_KEYS[1:]:
        value = obj.get(key)
        if value is not None and (type(value) is not int or (key != "seed" and value < 0)):
            raise DataError(f"{file}: line {n}: field {key!r} must be a non-negative integer "
                            f"or null, got {value!r}")
    return obj


class _Row:
    """One parsed line, with typed accessors whose errors name the file, line and field."""

    def __init__(self, file: str, n: int, obj: dict[str, Any]) -> None:
        self.file, self.n, self.obj = file, n, obj

    def fail(self, field: str, problem: str) -> DataError:
        return DataError(f"{self.file}: line {self.n}: field {field!r} {problem}")

    def keys(self, allowed: tuple[str, ...], required: tuple[str, ...] | None = None,
             obj: dict[str, Any] | None = None, where: str = "") -> None:
        obj = self.obj if obj is None else obj
        for key in allowed if required is None else required:
            if key not in obj:
                raise self.fail(where + key, "is missing")
        unknown = sorted(set(obj) - set(allowed))
        if unknown:
            raise self.fail(where + unknown[0], f"is not a known field; valid fields: "
                            f"{', '.join(allowed)}")

    def text(self, field: str, obj: dict[str, Any] | None = None, where: str = "") -> str:
        obj = self.obj if obj is None else obj
        if field not in obj:
            raise self.fail(where + field, "is missing")
        value = obj[field]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where + field, f"must be a non-empty string, got {value!r}")
        return value

    def texts(self, field: str, obj: dict[str, Any], where: str, least: int) -> tuple[str, ...]:
        value = obj.get(field)
        if not isinstance(value, list) or not all(isinstance(s, str) and s.strip()
                                                  for s in value):
            raise self.fail(where + field, f"must be a list of non-empty strings, got {value!r}")
        if len(value) < least:
            raise self.fail(where + field, f"needs at least {least} entries, got {len(value)}")
        if len(set(value)) < len(value):
            raise self.fail(where + field, f"holds a repeated entry: {value!r}")
        return tuple(value)


def _person(r: _Row) -> tuple[Person, str]:
    split = r.text("split")
    if split not in SPLITS:
        raise r.fail("split", f"must be 'member' or 'holdout', got {split!r}")
    pid = r.text("id")
    if not ID_PATTERN.fullmatch(pid) or pid == GENERAL:
        raise r.fail("id", f"must be letters, digits, '_', '.' or '-' (and not {GENERAL!r}), "
                     f"got {pid!r}")
    name, bio = r.text("name"), r.text("bio")
    attrs = r.obj["attributes"]
    if not isinstance(attrs, dict) or not attrs:
        raise r.fail("attributes", f"must be a non-empty object of strings, got {attrs!r}")
    for key in attrs:
        r.text(key, attrs, "attributes.")
    facts = r.obj["facts"]
    if not isinstance(facts, list) or not facts:
        raise r.fail("facts", f"must be a non-empty list of facts, got {facts!r}")
    parsed = tuple(_fact(r, f"facts[{i}].", f) for i, f in enumerate(facts))
    for i, fact in enumerate(parsed):
        where = f"facts[{i}]."
        if fact.subject != pid:
            raise r.fail(where + "subject", f"must be the person's id {pid!r}, got "
                         f"{fact.subject!r}")
        if fact.attribute not in attrs:
            raise r.fail(where + "attribute", f"{fact.attribute!r} is not one of the person's "
                         f"attributes ({', '.join(attrs)})")
        if fact.answer != attrs[fact.attribute]:
            raise r.fail(where + "answer", f"{fact.answer!r} differs from attributes."
                         f"{fact.attribute} = {attrs[fact.attribute]!r}")
    attributes = [f.attribute for f in parsed]
    for i, attribute in enumerate(attributes):
        if attribute in attributes[:i]:
            raise r.fail(f"facts[{i}].attribute", f"repeats {attribute!r}: one fact per "
                         "attribute")
    return Person(pid, name, dict(attrs), bio, parsed), split


def _fact(r: _Row, where: str, obj: dict[str, Any] | None = None) -> Fact:
    if obj is None:
        obj = r.obj
    elif not isinstance(obj, dict):
        raise r.fail(where.rstrip("."), f"must be a JSON object, got {obj!r}")
    else:
        r.keys(FACT_KEYS, obj=obj, where=where)
    questions = r.texts("questions", obj, where, MIN_QUESTIONS)
    heldout = r.texts("heldout_questions", obj, where, MIN_HELDOUT)
    both = set(questions) & set(heldout)
    if both:
        raise r.fail(where + "heldout_questions", f"repeats a training question: "
                     f"{sorted(both)[0]!r}")
    paraphrase = r.text("paraphrased_answer", obj, where)
    perturbed = r.texts("perturbed_answers", obj, where, MIN_PERTURBED)
    if paraphrase in perturbed:
        raise r.fail(where + "perturbed_answers", f"includes the correct paraphrased answer "
                     f"{paraphrase!r}")
    return Fact(r.text("subject", obj, where), r.text("attribute", obj, where), questions,
                heldout, r.text("answer", obj, where), paraphrase, perturbed)


def _once(seen: dict[tuple[str, str], int], file: str, n: int, *keys: tuple[str, str]) -> None:
    for key in keys:
        if key in seen:
            raise DataError(f"{file}: line {n}: duplicate {key[0]} {key[1]!r} (first on line "
                            f"{seen[key]})")
        seen[key] = n
