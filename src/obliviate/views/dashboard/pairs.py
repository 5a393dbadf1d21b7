"""Which pairs of runs compare, and how far: the one home of the dashboard's pairing rules.

Two runs of one kind always compare by their headline metrics. Class-level views (per-class
accuracy, confusion, membership scores) also need the same data: the same classes and the
same data fingerprint, or one class index would mean two different things. Sample-by-sample
views need the same samples: for classifiers one scenario, forget set and seed; for language
models the same corpus and forget people (every per-question view indexes the forget
questions).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from obliviate.storage.records import record_kind


def data_key(record: dict[str, Any]) -> str:
    """Equal for two runs exactly when they ran on the same data (the B picker's filter).

    A record without a data fingerprint (older runs) is known only by its scenario's name.
    """
    sc = record["scenario"]
    basis = sc.get("data_fingerprint") or f"scenario {sc.get('name')}"
    classes = sc.get("classes")
    ident = [record_kind(record), basis, None if classes is None else [str(c) for c in classes]]
    return hashlib.sha256(json.dumps(ident).encode()).hexdigest()[:16]


def different_data(ra: dict[str, Any], rb: dict[str, Any]) -> str | None:
    """Why two runs' class-level views cannot be compared, or None when they can."""
    if ra["run_id"] == rb["run_id"] or data_key(ra) == data_key(rb):
        return None
    return (f"A ran on {_data(ra)} and B on {_data(rb)}: different data, so per-class and "
            "per-sample views would compare unrelated things; pick a B run on A's data (the "
            "B picker offers only those)")


def different_samples(ra: dict[str, Any], rb: dict[str, Any]) -> str | None:
    """Why two runs (of the same data) cannot be compared sample by sample, or None."""
    if ra["run_id"] == rb["run_id"]:
        return None
    sa_, sb = ra["scenario"], rb["scenario"]
    if record_kind(ra) == "lm" and "forget_people" in sa_ and "forget_people" in sb:
        if sorted(sa_["forget_people"]) == sorted(sb["forget_people"]):
            return None
        return (f"A forgot people {', '.join(sa_['forget_people'])} and B "
                f"{', '.join(sb['forget_people'])}: per-question views need runs that forgot "
                "the same people")
    if all(sa_.get(f) == sb.get(f) for f in ("name", "seed", "forget")):
        return None
    return (f"A ran on {_show(sa_)} and B on {_show(sb)}: sample-by-sample views need runs of "
            "one scenario, forget set and seed")


def _data(record: dict[str, Any]) -> str:
    sc = record["scenario"]
    what = [str(sc.get("name"))]
    if "classes" in sc:
        what.append(f"{len(sc['classes'])} classes")
    if sc.get("data_fingerprint"):
        what.append(f"data {str(sc['data_fingerprint'])[:8]}")
    return f"{what[0]} ({', '.join(what[1:])})" if len(what) > 1 else what[0]


def _show(sc: dict[str, Any]) -> str:
    return f"{sc.get('name')} {sc.get('forget')} seed {sc.get('seed')}"
