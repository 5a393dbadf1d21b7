"""RunRecord: the versioned JSON that every run writes (STYLE.md habit 9).

Reports, the store and the dashboard read records and nothing else. A record is written to a
temporary file in the destination directory and renamed, so a crash never leaves half a record.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TextIO

from obliviate.errors import ObliviateError
from obliviate.storage.atomic import atomic_write

SCHEMA = "obliviate.run/2"
# What obliviate.run/2 changed (the numbers of a /1 record are not comparable with these):
# PrivLeak in MUSE's orientation (the untouched original about -100, was about +100); TOFU's
# ROUGE-L with Porter stemming (so model utility and "ROUGE-L recall (D_f)"); exact
# memorization and extraction strength on forget QA answers without EOS (were biographies);
# the shadow attack's "challenge ..." values from the challenge's own metric.py (a /1
# record's were our strict variant, now named "strict ...").
READABLE = ("obliviate.run/1", SCHEMA)
CHANGED_IN_2 = ("PrivLeak", "Model utility", "ROUGE-L recall (D_f)",
                "Exact memorization (D_f)", "Extraction strength (D_f)")
ROLES = ("original", "unlearned", "oracle")
REQUIRED = ("schema", "run_id", "created", "scenario", "method", "metrics", "efficiency",
            "environment")


def record_schema(record: dict[str, Any]) -> str:
    return str(record["schema"])


def same_conventions(records: list[dict[str, Any]]) -> None:
    """Refuse to put records of different schemas in one table: their numbers mean different
    things (``CHANGED_IN_2``), and a mean over both would be silently wrong."""
    schemas = sorted({record_schema(r) for r in records})
    if len(schemas) > 1:
        raise ObliviateError(f"these runs mix record schemas {', '.join(schemas)}, whose "
                             f"metrics differ ({', '.join(CHANGED_IN_2)} changed in "
                             f"{SCHEMA}); report them apart or re-run the old ones")


class RecordError(ObliviateError):
    """A file that is not a valid run record; ``reason`` says why without naming the file
    (the message names both), for callers that name the file themselves."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def record_kind(record: dict[str, Any]) -> str:
    """"classification" or "lm"; records written before language models have no kind."""
    return str(record["scenario"].get("kind", "classification"))


def write_record(record: dict[str, Any], directory: str | Path) -> Path:
    """Atomically write ``record`` as ``<directory>/<run_id>.json`` and return the path."""
    validate(record)
    d = writable_dir(directory)
    final = d / f"{record['run_id']}.json"

    def dump(f: TextIO) -> None:
        try:
            json.dump(record, f, indent=1, allow_nan=False)
        except ValueError as e:  # NaN or infinity: JSON has no spelling for them
            raise ObliviateError(f"run record {record['run_id']} holds a NaN or infinite "
                                 f"number ({e}); it was not written") from None

    atomic_write(final, dump)
    return final


def writable_dir(directory: str | Path) -> Path:
    """Create ``directory`` if needed and check records can be written there."""
    d = Path(directory)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ObliviateError(f"cannot create records directory {str(d)!r}: "
                             f"{e.strerror or e}") from None
    if not os.access(d, os.W_OK | os.X_OK):
        raise ObliviateError(f"records directory {str(d)!r} is not writable")
    return d


def read_record(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        record = json.loads(p.read_text())
    except (OSError, ValueError) as e:  # ValueError covers bad JSON and bad UTF-8
        reason = e.strerror if isinstance(e, OSError) and e.strerror else f"not JSON ({e})"
        raise RecordError(f"cannot read run record {str(p)!r}: {e}", reason) from None
    try:
        validate(record)
    except ObliviateError as e:
        raise RecordError(f"{str(p)!r}: {e}", str(e)) from None
    return dict(record)


def validate(record: object) -> None:
    """Raise ``ObliviateError`` unless ``record`` has this schema's shape."""
    if not isinstance(record, dict):
        raise ObliviateError("a run record must be a JSON object")
    missing = [k for k in REQUIRED if k not in record]
    if missing:
        raise ObliviateError(f"run record lacks {', '.join(missing)}")
    if record["schema"] not in READABLE:
        raise ObliviateError(f"run record schema {record['schema']!r} is not one obliviate "
                             f"reads ({', '.join(READABLE)})")
    if not isinstance(record["metrics"], dict):
        raise ObliviateError("run record 'metrics' must be an object")
    side = record.get("sidecar")  # optional: records written before sidecars have none
    if side is not None and not (isinstance(side, dict) and isinstance(side.get("file"), str)
                                 and isinstance(side.get("sha256"), str)):
        raise ObliviateError("run record 'sidecar' must be an object with 'file' and 'sha256'")
    for name, m in record["metrics"].items():
        if not isinstance(m, dict):
            raise ObliviateError(f"metric {name!r} must be an object with a value per role")
        absent = [r for r in ROLES if r not in m]
        if absent:
            raise ObliviateError(f"metric {name!r} lacks values for {', '.join(absent)}")
