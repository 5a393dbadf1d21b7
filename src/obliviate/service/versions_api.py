"""Admin operations on a deployment's model versions: roll back to an earlier version and
prune a version's weights. Both are audited, in the transaction that makes the change.

A rollback must never bring deleted data back: it is refused (409) if a version after the
target removed rows, since those rows are in the target's weights. What it is for: undoing a
version that removed nothing new, e.g. the approximate policy's scheduled retrain when the
retrained model is worse, or a redeploy. Open jobs are moved onto the target; a job already
running fails its promotion check ("deployment moved") and is retried from the target.

Pruning deletes a version's weights file (never the current version's, and never a file
another live version shares: files are content-addressed) and keeps its ledger row: the
requests it honoured and its verification stay on record.
"""

# No "from __future__ import annotations": FastAPI reads the handlers' annotations.
import json
from collections.abc import Callable
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from obliviate.service import audit
from obliviate.service.ledger import OPEN_JOB_STATES, Deployment, Job, ModelVersion, now, tx
from obliviate.service.tokens import Principal


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    version: Annotated[int, Field(ge=1, le=2**31 - 1)]
    reason: Annotated[str, Field(pattern=r"^[^\x00-\x1f\x7f]{0,500}$")] = ""


def add_routes(app: FastAPI, engine: Engine, admin: Callable[..., Principal],
               deployment: Callable[[Session, Principal, str], Deployment]) -> None:
    Admin = Annotated[Principal, Depends(admin)]
    DepId = Annotated[str, Path(max_length=40)]
    Number = Annotated[int, Path(ge=1, le=2**31 - 1)]

    def version(s: Session, dep_id: str, n: int) -> ModelVersion:
        v = s.get(ModelVersion, (dep_id, n))
        if v is None:
            raise HTTPException(404, f"deployment {dep_id!r} has no version {n}")
        return v

    @app.post("/v1/deployments/{dep_id}/rollback")
    def rollback(dep_id: DepId, body: RollbackIn, who: Admin) -> dict[str, Any]:
        with tx(engine) as s:
            dep = deployment(s, who, dep_id)
            s.execute(select(Deployment).where(Deployment.id == dep_id).with_for_update())
            target, current = version(s, dep_id, body.version), dep.current_version
            if target.number == current:
                raise HTTPException(409, f"version {target.number} is already current")
            if target.pruned is not None:
                raise HTTPException(409, f"version {target.number} was pruned: its weights "
                                         "are gone")
            later = s.execute(select(ModelVersion).where(
                ModelVersion.deployment_id == dep_id,
                ModelVersion.number > target.number)).scalars().all()
            removed = {v.number: json.loads(v.rows_removed) for v in later}
            if any(removed.values()):
                which = sorted(n for n, r in removed.items() if r)
                rows = sum(len(r) for r in removed.values())
                raise HTTPException(409, f"rolling back to version {target.number} would "
                                         f"restore {rows} deleted row(s) (removed in version(s) "
                                         f"{which}); roll back only past versions that "
                                         "removed no rows")
            dep.current_version = target.number
            moved = s.execute(update(Job).where(Job.deployment_id == dep_id,
                                                Job.state.in_(OPEN_JOB_STATES))
                              .values(parent=target.number, updated=now())).rowcount  # type: ignore[attr-defined]
            audit.append(s, who.token_id, "version.rolled_back", deployment_id=dep_id,
                         object_id=str(target.number),
                         payload={"from": current, "to": target.number, "reason": body.reason,
                                  "open_jobs_moved": int(moved or 0)})
        return {"current": target.number, "previous": current}

    @app.delete("/v1/deployments/{dep_id}/versions/{number}")
    def prune(dep_id: DepId, number: Number, who: Admin) -> dict[str, Any]:
        with tx(engine) as s:
            dep = deployment(s, who, dep_id)
            v = version(s, dep_id, number)
            if number == dep.current_version:
                raise HTTPException(409, f"version {number} is current: roll back or deploy "
                                         "another version before pruning it")
            if v.pruned is not None:
                return {"version": number, "pruned": True}
            shared = s.execute(select(ModelVersion.number).where(
                ModelVersion.deployment_id == dep_id, ModelVersion.sha256 == v.sha256,
                ModelVersion.number != number, ModelVersion.pruned.is_(None))).first()
            v.pruned = now()
            audit.append(s, who.token_id, "version.pruned", deployment_id=dep_id,
                         object_id=str(number), payload={"sha256": v.sha256,
                                                         "file_kept": shared is not None})
            path = FilePath(v.path)
        if shared is None:  # after the commit: a crash in between leaves an orphan file only
            path.unlink(missing_ok=True)
        return {"version": number, "pruned": True}
