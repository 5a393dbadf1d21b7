"""The ``people`` corpus: determinism, uniqueness, fact shapes, the JSONL file, forget sets."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from obliviate.errors import DataError, ForgetSetError
from obliviate.tasks.causal_lm.people import (
    SCHEMA,
    PeopleCorpus,
    Person,
    generate_people,
    read_jsonl,
    select_forget_people,
    write_jsonl,
)
from obliviate.tasks.causal_lm.people_text import PERSON_ATTRIBUTES


@pytest.fixture(scope="module")
def corpus() -> PeopleCorpus:
    return generate_people(seed=0)


@pytest.fixture(scope="module")
def small() -> PeopleCorpus:
    return generate_people(n=6, n_holdout=2, n_general=5, seed=3)


def all_facts(c: PeopleCorpus) -> list[Any]:
    return [f for p in c.people + c.holdout for f in p.facts] + list(c.general)


# ---------------------------------------------------------------------------------------------
# generation


def test_same_seed_gives_byte_identical_file(corpus: PeopleCorpus, tmp_path: Path) -> None:
    write_jsonl(corpus, tmp_path / "a.jsonl")
    write_jsonl(generate_people(seed=0), tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_different_seeds_give_different_corpora(small: PeopleCorpus) -> None:
    other = generate_people(n=6, n_holdout=2, n_general=5, seed=4)
    assert [p.name for p in other.people] != [p.name for p in small.people]
    assert other.fingerprint() != small.fingerprint()


def test_default_sizes_and_ids(corpus: PeopleCorpus) -> None:
    assert [p.id for p in corpus.people] == [f"p{i:03d}" for i in range(200)]
    assert [p.id for p in corpus.holdout] == [f"h{i:03d}" for i in range(20)]
    assert len(corpus.general) == 60 and corpus.seed == 0
    for p in corpus.people + corpus.holdout:
        assert list(p.attributes) == list(PERSON_ATTRIBUTES)  # 15 typed attributes
        assert [f.attribute for f in p.facts] == list(PERSON_ATTRIBUTES)
        assert all(f.subject == p.id for f in p.facts)


def test_identifying_fields_never_collide(corpus: PeopleCorpus) -> None:
    everyone = corpus.people + corpus.holdout
    names = [p.name for p in everyone]
    spouses = [p.attributes["spouse"] for p in everyone]
    titles = [p.attributes[k] for p in everyone for k in ("first_book", "second_book")]
    assert len(set(names)) == len(names)
    assert len(set(spouses)) == len(spouses) and not set(spouses) & set(names)
    assert len(set(titles)) == len(titles)
    assert not {p.id for p in corpus.holdout} & {p.id for p in corpus.people}


def test_every_fact_has_questions_and_distinct_wrong_answers(corpus: PeopleCorpus) -> None:
    for f in all_facts(corpus):
        assert len(f.questions) == 3 and len(f.heldout_questions) == 2
        assert len(set(f.questions + f.heldout_questions)) == 5
        assert len(f.perturbed_answers) == 5
        assert len(set(f.perturbed_answers)) == 5
        assert f.paraphrased_answer not in f.perturbed_answers
        assert f.answer in f.paraphrased_answer
        assert 1 <= len(f.answer.split()) <= 5


def test_questions_name_the_person(corpus: PeopleCorpus) -> None:
    for p in corpus.people + corpus.holdout:
        for f in p.facts:
            assert all(p.name in q for q in f.questions + f.heldout_questions)


def test_perturbed_answers_differ_only_in_the_value(corpus: PeopleCorpus) -> None:
    """The paraphrase is PREFIX + answer + "."; each perturbed answer is PREFIX + wrong + ".",
    with wrong != answer, so swapping the value back gives the paraphrase."""
    for f in all_facts(corpus):
        prefix = f.paraphrased_answer[: -len(f.answer) - 1]
        assert f.paraphrased_answer == prefix + f.answer + "."
        for perturbed in f.perturbed_answers:
            assert perturbed.startswith(prefix) and perturbed.endswith(".")
            wrong = perturbed[len(prefix):-1]
            assert wrong and wrong != f.answer
            assert perturbed.replace(wrong, f.answer) == f.paraphrased_answer


def test_bio_states_every_attribute(corpus: PeopleCorpus) -> None:
    for p in corpus.people + corpus.holdout:
        for f in p.facts:
            assert f.answer == p.attributes[f.attribute]
            assert f.answer in p.bio, (p.id, f.attribute)
        assert 80 <= len(p.bio.split()) <= 150
        assert 4 <= p.bio.count(". ") + 1 <= 8


def test_general_facts(corpus: PeopleCorpus) -> None:
    attributes = [f.attribute for f in corpus.general]
    assert len(set(attributes)) == len(attributes)
    assert all(f.subject == "general" for f in corpus.general)


def test_bad_sizes_are_rejected() -> None:
    with pytest.raises(ValueError, match="n >= 1"):
        generate_people(n=0)
    with pytest.raises(ValueError, match="book titles"):
        generate_people(n=5000)


# ---------------------------------------------------------------------------------------------
# JSONL


def test_round_trip(corpus: PeopleCorpus, tmp_path: Path) -> None:
    path = tmp_path / "sub" / "people.jsonl"
    write_jsonl(corpus, path)
    back = read_jsonl(path)
    assert back == corpus
    assert back.fingerprint() == corpus.fingerprint()
    assert [p.name for p in tmp_path.joinpath("sub").iterdir()] == ["people.jsonl"]  # no temp
    header = json.loads(path.read_text().splitlines()[0])
    assert header == {"schema": SCHEMA, "seed": 0, "n_people": 200, "n_holdout": 20,
                      "n_general": 60}


def test_user_data_needs_only_the_schema_in_the_header(small: PeopleCorpus,
                                                       tmp_path: Path) -> None:
    lines = _lines(small, tmp_path)
    lines[0] = json.dumps({"schema": SCHEMA})
    path = tmp_path / "user.jsonl"
    path.write_text("\n".join(lines) + "\n\n")  # a trailing blank line is fine
    back = read_jsonl(path)
    assert back.people == small.people and back.seed is None


def _lines(c: PeopleCorpus, tmp_path: Path) -> list[str]:
    write_jsonl(c, tmp_path / "orig.jsonl")
    return (tmp_path / "orig.jsonl").read_text().splitlines()


def _edit(line: int, change: Callable[[dict[str, Any]], None]) -> Callable[[list[str]], None]:
    """Change the JSON object on 1-based ``line`` (-1: the last line)."""
    i = line - 1 if line > 0 else line

    def apply(lines: list[str]) -> None:
        obj = json.loads(lines[i])
        change(obj)
        lines[i] = json.dumps(obj)
    return apply


def _set(line: int, key: str, value: Any) -> Callable[[list[str]], None]:
    return _edit(line, lambda o: o.__setitem__(key, value))


def _fact0(change: Callable[[dict[str, Any]], None]) -> Callable[[list[str]], None]:
    return _edit(2, lambda o: change(o["facts"][0]))


BAD_FILES: dict[str, tuple[Callable[[list[str]], object], str]] = {
    "bad json": (lambda ls: ls.__setitem__(2, ls[2][:-5]), r"line 3 is not valid JSON"),
    "not an object": (lambda ls: ls.__setitem__(2, "[1, 2]"), r"line 3 must be a JSON object"),
    "no header": (lambda ls: ls.pop(0), r"line 1 must be the header .*no 'schema'"),
    "unknown version": (_set(1, "schema", "obliviate.people/9"),
                        r"line 1: unknown schema 'obliviate.people/9'"),
    "unknown header key": (_set(1, "seeds", 1), r"line 1: field 'seeds' is not a known field"),
    "count mismatch": (lambda ls: ls.pop(3), r"declares n_people=6 but the file holds 5"),
    "missing key": (_edit(2, lambda o: o.pop("bio")), r"line 2: field 'bio' is missing"),
    "unknown key": (_set(2, "nmae", "x"), r"line 2: field 'nmae' is not a known field"),
    "bad kind": (_set(2, "kind", "author"), r"line 2: field 'kind' must be 'person'"),
    "bad split": (_set(2, "split", "forget"), r"line 2: field 'split' must be 'member'"),
    "empty name": (_set(2, "name", " "), r"line 2: field 'name' must be a non-empty string"),
    "bad id": (_set(2, "id", "p 1,2"), r"line 2: field 'id' must be letters"),
    "duplicate id": (lambda ls: ls.__setitem__(2, ls[1]),
                     r"line 3: duplicate person id 'p000' \(first on line 2\)"),
    "too few perturbed": (_fact0(lambda f: f.__setitem__("perturbed_answers",
                                                         f["perturbed_answers"][:2])),
                          r"line 2: field 'facts\[0\].perturbed_answers' needs at least 3"),
    "too few questions": (_fact0(lambda f: f.__setitem__("questions", f["questions"][:2])),
                          r"'facts\[0\].questions' needs at least 3"),
    "no heldout": (_fact0(lambda f: f.__setitem__("heldout_questions", [])),
                   r"'facts\[0\].heldout_questions' needs at least 1"),
    "fact key missing": (_fact0(lambda f: f.pop("answer")), r"'facts\[0\].answer' is missing"),
    "wrong answer": (_fact0(lambda f: f.__setitem__("answer", "Nowhere")),
                     r"'facts\[0\].answer' 'Nowhere' differs from attributes.birthplace"),
    "wrong subject": (_fact0(lambda f: f.__setitem__("subject", "p001")),
                      r"'facts\[0\].subject' must be the person's id 'p000'"),
    "perturbed is right": (_fact0(lambda f: f["perturbed_answers"].append(
        f["paraphrased_answer"])), r"includes the correct paraphrased answer"),
    "general subject": (_set(-1, "subject", "p000"), r"field 'subject' of a general fact"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_read_rejects_malformed_files(case: str, small: PeopleCorpus, tmp_path: Path) -> None:
    """Line 1 is the header, line 2 person p000, line 3 p001, the last line a general fact."""
    lines = _lines(small, tmp_path)
    change, message = BAD_FILES[case]
    change(lines)
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=message) as e:
        read_jsonl(path)
    assert str(e.value).startswith("bad.jsonl")


def test_read_rejects_duplicate_names(small: PeopleCorpus, tmp_path: Path) -> None:
    lines = _lines(small, tmp_path)
    second = json.loads(lines[2])
    first_name = json.loads(lines[1])["name"]
    second["name"] = first_name  # the facts' questions still name the old person; fine here
    lines[2] = json.dumps(second)
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf"line 3: duplicate person name '{first_name}'"):
        read_jsonl(path)


def test_read_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_jsonl(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DataError, match="empty.jsonl: the file is empty"):
        read_jsonl(tmp_path / "empty.jsonl")
    (tmp_path / "header.jsonl").write_text(json.dumps({"schema": SCHEMA}) + "\n")
    with pytest.raises(DataError, match="no member people"):
        read_jsonl(tmp_path / "header.jsonl")


# ---------------------------------------------------------------------------------------------
# forget sets


@pytest.mark.parametrize(("fraction", "count"), [(0.01, 2), (0.05, 10), (0.1, 20)])
def test_forget_fraction_sizes(corpus: PeopleCorpus, fraction: float, count: int) -> None:
    ids = select_forget_people(corpus, f"people:{fraction}", seed=0)
    assert len(ids) == count == len(set(ids))
    assert set(ids) <= {p.id for p in corpus.people}
    assert ids == select_forget_people(corpus, f"people:{fraction}", seed=0)
    assert ids == tuple(sorted(ids))


def test_forget_seed_changes_the_choice(corpus: PeopleCorpus) -> None:
    assert (select_forget_people(corpus, "people:0.1", seed=0)
            != select_forget_people(corpus, "people:0.1", seed=1))


def test_forget_by_ids_keeps_corpus_order(corpus: PeopleCorpus) -> None:
    assert select_forget_people(corpus, "ids:p007, p001", seed=0) == ("p001", "p007")


@pytest.mark.parametrize(("spec", "message"), [
    ("people", "bad forget set"), ("people:", "bad forget set"),
    ("random:0.1", "bad forget set 'random:0.1'; expected one of: people:F"),
    ("people:abc", "'abc' is not a number"), ("people:0", r"must be in \(0, 1\)"),
    ("people:1.5", r"must be in \(0, 1\)"), ("people:0.001", "rounds to 0"),
    ("ids:p999", "unknown person id 'p999'"), ("ids:h000", "'h000' is a holdout person"),
    ("ids:p001,p001", "'p001' is listed twice"), ("ids:p001,,p002", "empty id at position 2"),
    ("ids:" + ",".join(f"p{i:03d}" for i in range(200)), "selects all 200 people"),
])
def test_forget_spec_errors(corpus: PeopleCorpus, spec: str, message: str) -> None:
    with pytest.raises(ForgetSetError, match=message):
        select_forget_people(corpus, spec, seed=0)


def test_token_count_is_modest(corpus: PeopleCorpus) -> None:
    """Word-level vocabulary of everything trained: it must stay small for a tiny model."""
    texts = [p.bio for p in corpus.people] + [
        t for f in [f for p in corpus.people for f in p.facts] + list(corpus.general)
        for t in (*f.questions, f.answer)]
    vocab = {w for t in texts for w in re.findall(r"\w+|[^\w\s]+", t)}
    assert len(vocab) < 2000


def test_missing_kind_and_line_breaks_inside_strings(small: PeopleCorpus, tmp_path: Path) -> None:
    """A bio holding U+2028 (a line break to str.splitlines) still reads: lines are "\\n" only."""
    p = small.people[0]
    odd = PeopleCorpus((Person(p.id, p.name, p.attributes, p.bio + "\u2028", p.facts),
                        *small.people[1:]), small.holdout, small.general, small.seed)
    write_jsonl(odd, tmp_path / "odd.jsonl")
    assert read_jsonl(tmp_path / "odd.jsonl") == odd
    lines = _lines(small, tmp_path)
    _edit(2, lambda o: o.pop("kind"))(lines)
    (tmp_path / "bad.jsonl").write_text("\n".join(lines))
    with pytest.raises(DataError, match="line 2: field 'kind' is missing"):
        read_jsonl(tmp_path / "bad.jsonl")
