"""``people``: a deterministic, TOFU-style corpus of fictitious authors.

After TOFU (Maini et al. 2024, "TOFU: A Task of Fictitious Unlearning for LLMs"): each person
has 15 typed attributes, each a fact with training questions, held-out phrasings, a paraphrased
answer and perturbed (wrong) answers for the truth ratio, plus a short biography for MUSE-style
verbatim and knowledge memorisation (Shi et al. 2024). Holdout people are never trained
(non-members for membership inference); general facts about a fictional world are trained into
every model and measure utility, as TOFU's real authors and world facts do.

Everything comes from one ``np.random.default_rng(seed)`` stream, so a seed gives a
byte-identical file. Names and book titles never repeat; every other value is drawn from a
typed pool, and perturbed answers are other values of the same pool.
"""

from __future__ import annotations

import math

import numpy as np

from obliviate.errors import ForgetSetError, shown
from obliviate.tasks.causal_lm.people_io import (
    GENERAL,
    SCHEMA,
    Fact,
    PeopleCorpus,
    Person,
    read_jsonl,
    write_jsonl,
)
from obliviate.tasks.causal_lm.people_text import (
    ANIMALS,
    AWARD_ADJECTIVES,
    AWARD_KINDS,
    AWARD_OBJECTS,
    BIO_SENTENCES,
    CODAS,
    COLOURS,
    COUNTRY_ATTRIBUTES,
    FINAL_CODAS,
    GENRES,
    JOBS,
    MONTHS,
    ONSETS,
    PERSON_ATTRIBUTES,
    PETS,
    TITLE_ADJECTIVES,
    TITLE_NOUNS,
    VOWELS,
    Template,
)

__all__ = ["SCHEMA", "Fact", "PeopleCorpus", "Person", "generate_people", "read_jsonl",
           "canonical_people_forget", "select_forget_people", "write_jsonl"]

N_QUESTIONS, N_HELDOUT, N_PERTURBED = 3, 2, 5
MIN_COUNTRIES = 12
# Two titles per person, from "The Adj Noun" (900) and "Noun and Noun" (870) titles.
MAX_PEOPLE = (len(TITLE_ADJECTIVES) * len(TITLE_NOUNS)
              + len(TITLE_NOUNS) * (len(TITLE_NOUNS) - 1)) // 2 - N_PERTURBED
FORGET_SELECTORS = {
    "people": "people:F — a random fraction 0 < F < 1 of the member people",
    "ids": "ids:A,B,... — the member people with these ids",
}


def generate_people(n: int = 200, n_holdout: int = 20, n_general: int = 60,
                    seed: int = 0) -> PeopleCorpus:
    """``n`` members (ids p000..), ``n_holdout`` non-members (h000..), ``n_general`` facts."""
    if n < 1 or n_holdout < 0 or n_general < 0:
        raise ValueError(f"need n >= 1, n_holdout >= 0, n_general >= 0; got n={n}, "
                         f"n_holdout={n_holdout}, n_general={n_general}")
    if n + n_holdout > MAX_PEOPLE:
        raise ValueError(f"n + n_holdout = {n + n_holdout} exceeds {MAX_PEOPLE}: there are not "
                         "enough distinct book titles")
    rng = np.random.default_rng(seed)
    words = _Words(rng)
    total = n + n_holdout
    countries = [w + "ia" for w in words.take(max(MIN_COUNTRIES, math.ceil(n_general / 8)),
                                              final=FINAL_CODAS)]
    # A name for each person, then spouses' names (a few spare ones for perturbed answers).
    names = _names(rng, words, 2 * total + N_PERTURBED + 1)
    towns = words.take(60)
    schools = _pick(rng, [form.format(t) for t in towns for form in
                          ("the University of {}", "{} College", "the {} Academy")], 40)
    titles = _pick(rng, [f"The {a} {b}" for a in TITLE_ADJECTIVES for b in TITLE_NOUNS]
                   + [f"{a} and {b}" for a in TITLE_NOUNS for b in TITLE_NOUNS if a != b],
                   None)
    awards = _pick(rng, [f"the {a} {o} {k}" for a in AWARD_ADJECTIVES for o in AWARD_OBJECTS
                         for k in AWARD_KINDS], 40)
    pools: dict[str, list[str]] = {
        "town": towns, "nationality": [c + "n" for c in countries], "job": list(JOBS),
        "genre": list(GENRES), "title": titles, "award": awards, "spouse": names[total:],
        "school": schools, "pet": list(PETS), "colour": list(COLOURS)}
    people = [_person(rng, pid, names[i], names[total + i], titles[2 * i:2 * i + 2], pools)
              for i, pid in enumerate([f"p{i:03d}" for i in range(n)]
                                      + [f"h{i:03d}" for i in range(n_holdout)])]
    return PeopleCorpus(tuple(people[:n]), tuple(people[n:]),
                        _general(rng, words, countries, n_general), seed)


def canonical_people_forget(spec: str) -> str:
    """The one spelling of a people forget set, which headings and records show: whitespace
    around the kind and each id goes, a fraction is its float's repr (``people:0.10`` and a
    5,000-digit ``people:0.111...`` are ``people:0.1`` and ``people:0.1111111111111111``).
    Text that does not parse comes back as given, for ``select_forget_people`` to reject."""
    kind, sep, arg = spec.partition(":")
    kind = kind.strip()
    if not sep or kind not in FORGET_SELECTORS:
        return spec
    if kind == "people":
        try:
            return f"people:{float(arg)!r}"
        except ValueError:
            return spec
    return "ids:" + ",".join(s.strip() for s in arg.split(","))


def select_forget_people(corpus: PeopleCorpus, spec: str, seed: int) -> tuple[str, ...]:
    """Ids of the member people to forget, in corpus order.

    ``people:F`` picks ``round(F * n)`` members with ``np.random.default_rng(seed)``;
    ``ids:A,B`` names them.
    """
    ids = [p.id for p in corpus.people]
    kind, sep, arg = spec.partition(":")
    if not sep or kind not in FORGET_SELECTORS or not arg.strip():
        raise ForgetSetError(f"bad forget set {shown(spec)}; expected one of: "
                             + "; ".join(FORGET_SELECTORS.values()))
    if kind == "people":
        try:
            frac = float(arg)
        except ValueError:
            raise ForgetSetError(f"forget set {shown(spec)}: {shown(arg)} is not a "
                                 "number") from None
        if not 0.0 < frac < 1.0:
            raise ForgetSetError(f"forget set {shown(spec)}: the fraction must be in (0, 1), "
                                 f"got {frac}")
        k = int(round(frac * len(ids)))
        if k == 0:
            raise ForgetSetError(f"forget set {spec!r} is empty: {frac} of {len(ids)} people "
                                 "rounds to 0")
        picked = np.random.default_rng(seed).choice(len(ids), size=k, replace=False)
        chosen = tuple(ids[i] for i in sorted(int(i) for i in picked))
    else:
        wanted = [s.strip() for s in arg.split(",")]
        holdout = {p.id for p in corpus.holdout}
        for i, w in enumerate(wanted):
            if not w:
                raise ForgetSetError(f"forget set {spec!r}: empty id at position {i + 1}")
            if w in wanted[:i]:
                raise ForgetSetError(f"forget set {spec!r}: id {w!r} is listed twice")
            if w in holdout:
                raise ForgetSetError(f"forget set {spec!r}: {w!r} is a holdout person, never "
                                     "trained, so there is nothing to forget")
            if w not in ids:
                raise ForgetSetError(f"forget set {spec!r}: unknown person id {w!r}; member "
                                     f"ids run {ids[0]} .. {ids[-1]}")
        chosen = tuple(i for i in ids if i in set(wanted))
    if len(chosen) == len(ids):
        raise ForgetSetError(f"forget set {spec!r} selects all {len(ids)} people; nothing "
                             "would be left to retain")
    return chosen


class _Words:
    """Invented capitalised words, never repeated within a corpus (names, towns, countries)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.used = {w for group in (PETS, TITLE_ADJECTIVES, TITLE_NOUNS, AWARD_OBJECTS, MONTHS)
                     for w in group}

    def take(self, count: int, final: tuple[str, ...] = CODAS) -> list[str]:
        out: list[str] = []
        while len(out) < count:
            w = (self._draw(ONSETS) + self._draw(VOWELS) + self._draw(ONSETS[1:])
                 + self._draw(VOWELS) + self._draw(final)).capitalize()
            if w not in self.used:
                self.used.add(w)
                out.append(w)
        return out

    def _draw(self, options: tuple[str, ...]) -> str:
        return options[int(self.rng.integers(len(options)))]


def _names(rng: np.random.Generator, words: _Words, count: int) -> list[str]:
    """``count`` distinct "First Last" names from two small word pools (a modest vocabulary)."""
    k = max(40, math.ceil(math.sqrt(2 * count)))
    firsts, lasts = words.take(k), words.take(k)
    return [f"{firsts[i // k]} {lasts[i % k]}"
            for i in rng.choice(k * k, size=count, replace=False)]


def _pick(rng: np.random.Generator, options: list[str], count: int | None) -> list[str]:
    """``count`` of ``options`` (all of them when None) in a random order."""
    order = rng.permutation(len(options))
    return [options[i] for i in order[:count]]


def _wrong(rng: np.random.Generator, pool: list[str], value: str) -> list[str]:
    """``N_PERTURBED`` distinct values of ``pool`` other than ``value``."""
    picked = [pool[i] for i in rng.choice(len(pool), size=N_PERTURBED + 1, replace=False)]
    return [w for w in picked if w != value][:N_PERTURBED]


def _date(rng: np.random.Generator) -> str:
    month, day = MONTHS[int(rng.integers(12))], int(rng.integers(1, 29))
    return f"{month} {day}, {int(rng.integers(1930, 1986))}"


def _wrong_generated(rng: np.random.Generator, value: str, kind: str, low: int,
                     high: int) -> list[str]:
    out: list[str] = []
    while len(out) < N_PERTURBED:
        w = _date(rng) if kind == "date" else str(int(rng.integers(low, high)))
        if w != value and w not in out:
            out.append(w)
    return out


def _fact(rng: np.random.Generator, subject: str, attribute: str, t: Template, value: str,
          wrong: list[str], context: dict[str, str]) -> Fact:
    questions = [q.format(**context) for q in t.questions]
    order = rng.permutation(len(questions))
    train = sorted(int(i) for i in order[:N_QUESTIONS])
    held = sorted(int(i) for i in order[N_QUESTIONS:N_QUESTIONS + N_HELDOUT])
    prefix = t.statement.format(**context)  # the value ends every statement
    return Fact(subject, attribute, tuple(questions[i] for i in train),
                tuple(questions[i] for i in held), value, f"{prefix}{value}.",
                tuple(f"{prefix}{w}." for w in wrong))


def _person(rng: np.random.Generator, pid: str, name: str, spouse: str, titles: list[str],
            pools: dict[str, list[str]]) -> Person:
    birth = _date(rng)
    birth_year = int(birth[-4:])
    award_year = min(birth_year + int(rng.integers(25, 56)), 2023)

    def draw(kind: str) -> str:
        pool = pools[kind]
        return pool[int(rng.integers(len(pool)))]

    jobs = _pick(rng, pools["job"], 3)  # the person's and both parents' jobs all differ
    attrs = {
        "birthplace": draw("town"), "birth_date": birth, "nationality": draw("nationality"),
        "profession": jobs[0], "father_profession": jobs[1], "mother_profession": jobs[2],
        "genre": draw("genre"), "first_book": titles[0], "second_book": titles[1],
        "award": draw("award"), "award_year": str(award_year), "spouse": spouse,
        "alma_mater": draw("school"), "pet_name": draw("pet"), "favourite_colour": draw("colour"),
    }
    context = {"name": name, "award": attrs["award"]}
    facts = []
    for attribute, t in PERSON_ATTRIBUTES.items():
        value = attrs[attribute]
        if t.kind == "date":
            wrong = _wrong_generated(rng, value, "date", 0, 0)
        elif t.kind == "year":
            wrong = _wrong_generated(rng, value, "year", birth_year + 20, 2024)
        else:
            wrong = _wrong(rng, pools[t.kind], value)
        facts.append(_fact(rng, pid, attribute, t, value, wrong, context))
    bio = " ".join(group[int(rng.integers(len(group)))].format(name=name, **attrs)
                   for group in BIO_SENTENCES)
    return Person(pid, name, attrs, bio, tuple(facts))


def _general(rng: np.random.Generator, words: _Words, countries: list[str],
             n_general: int) -> tuple[Fact, ...]:
    """``n_general`` facts about the fictional countries (capital, river, currency, ...)."""
    m = len(countries)
    flags = [f"{a} and {b}" for i, a in enumerate(COLOURS) for b in COLOURS[i + 1:]]
    pools: dict[str, list[str]] = {
        "capital": words.take(m), "river": [f"the {w} River" for w in words.take(m)],
        "currency": [f"the {w.lower()}" for w in words.take(m)],
        "language": [w + "ic" for w in words.take(m, final=FINAL_CODAS)],
        "flag": _pick(rng, flags, None), "animal": _pick(rng, list(ANIMALS), None),
        "mountain": [f"Mount {w}" for w in words.take(m)],
        "founding": [str(int(y)) for y in rng.choice(np.arange(800, 1900), m, replace=False)],
    }
    chosen = sorted(int(i) for i in rng.choice(m * len(COUNTRY_ATTRIBUTES), size=n_general,
                                                replace=False))
    items = list(COUNTRY_ATTRIBUTES.items())
    facts = []
    for i in chosen:
        c, j = divmod(i, len(items))
        attribute, t = items[j]
        pool = pools[t.kind]
        value = pool[c % len(pool)]
        facts.append(_fact(rng, GENERAL, f"{countries[c]}.{attribute}", t, value,
                           _wrong(rng, pool, value), {"name": countries[c]}))
    return tuple(facts)
