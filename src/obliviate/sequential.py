"""Sequential deletion requests (MUSE's sustainability): forget a set in several requests.

The forget set of a spec is split into ``requests`` seeded batches. Request i unlearns batch
i from the model left by request i - 1, and is evaluated on everything forgotten so far,
beside an oracle retrained without all of it (trained or loaded from the cache, one per
request). Each request writes an ordinary RunRecord with a ``sequence`` field. Growing the
forget set instead (MUSE's scalability) is a series of ordinary runs: see
``benchmarks/robustness.py``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from obliviate.errors import ObliviateError
from obliviate.runner import RunSpec, Step, Trained, Workspace, prepare, run, trained_model
from obliviate.types import UnlearnData


def sequential(spec: RunSpec, ws: Workspace, requests: int, *,
               progress: bool = True) -> list[dict[str, Any]]:
    """One record per request, in order."""
    if spec.attacks:
        raise ObliviateError("attacks are not run inside a sequence of requests; attack the "
                             "single runs instead")
    if requests < 2:
        raise ObliviateError(f"--requests {requests}: a sequence needs at least 2 requests")
    t = prepare(dataclasses.replace(spec, noise_floor=False), ws, progress=progress)
    units = t.data.units()
    if requests > len(units):
        raise ObliviateError(f"--requests {requests}: need 2 .. {len(units)} (the forget set "
                             f"{t.data.forget_spec!r} has {len(units)} {t.data.unit_name})")
    order = np.random.default_rng(spec.seed).permutation(len(units))
    batches = [[units[i] for i in sorted(part)] for part in np.array_split(order, requests)]
    model, records, done = t.original, [], []
    for i, batch in enumerate(batches, start=1):
        done += batch
        label = f"{t.data.forget_spec} in {requests} requests: 1-{i}"  # canonical text
        data = t.data.with_forget(done, label)
        oracle, meta = trained_model(data, "oracle", ws, progress=progress)
        this = t.data.with_forget(batch, label)
        so_far = data.unlearn_data()
        step = Step(model, UnlearnData(forget=this.unlearn_data().forget,
                                       retain=so_far.retain, recipe=so_far.recipe),
                    {"request": i, "of": requests, "forget_this_request": len(batch),
                     "forget_so_far": len(done)})
        record, _ = run(dataclasses.replace(spec, noise_floor=False), ws,
                        trained=Trained(data, t.original, oracle,
                                        {"original": t.meta["original"], "oracle": meta}),
                        progress=progress, step=step)
        model = step.result["model"]
        records.append(record)
    return records
