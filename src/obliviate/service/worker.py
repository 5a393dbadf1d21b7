"""``obliviate worker``: batch committed requests, claim a job under a lease, honour it,
promote the new model version. Any step may be killed; the next worker carries on.

* **Batching.** A deployment's committed requests (older than ``window`` seconds) become one
  job, under a lock on the deployment row; a deployment has at most one open job, so its
  versions form a line and a job always starts from the current version.
* **Claiming.** One atomic statement takes a job that is waiting (``batched``, or ``failed``
  whose backoff has passed) or whose lease has expired (its worker died): on PostgreSQL
  ``SELECT ... FOR UPDATE SKIP LOCKED`` then ``UPDATE``; on SQLite a single ``UPDATE ...
  WHERE id = (SELECT ...) AND <still claimable>`` (SQLite has one writer at a time). A
  heartbeat thread extends the lease while the job runs.
* **Exactly once.** Nothing a job computes is visible until the promotion transaction, which
  first checks that this worker still holds the lease, then inserts the version, marks the
  rows deleted, moves every request of the job to ``deployed`` and flips the deployment's
  current version. A crash before that commit leaves the ledger as it was (the job is
  reclaimed when its lease expires and recomputed); after it, the job is done.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select, update
from sqlalchemy.orm import Session

from obliviate.service import audit
from obliviate.service.crash import point
from obliviate.service.ledger import (
    OPEN_JOB_STATES,
    DeletionRequest,
    Deployment,
    Job,
    ManifestRow,
    ModelVersion,
    is_postgres,
    now,
    tx,
)

log = logging.getLogger("obliviate.worker")


@dataclass(frozen=True)
class WorkerConfig:
    lease: float = 30.0  # seconds a claim lasts without a heartbeat
    poll: float = 1.0  # seconds between looks when idle
    window: float = 0.0  # batch a deployment's requests once the oldest is this old
    max_attempts: int = 5  # then the job is parked with its last error
    backoff: float = 2.0  # seconds before retry 1; doubled for each later one

    def __post_init__(self) -> None:
        bad = [f"{k}={v}" for k, v in (("lease", self.lease), ("poll", self.poll),
                                        ("max_attempts", self.max_attempts))
               if not v > 0] + [f"{k}={v}" for k, v in (("window", self.window),
                                                        ("backoff", self.backoff)) if v < 0]
        if bad:
            raise ValueError(f"worker: {', '.join(bad)} (lease, poll, max attempts > 0; "
                             "window, backoff >= 0)")


class VerificationFailed(Exception):
    """The new model did not pass its checks: it is not promoted; the job fails (retried)."""

    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report


class LeaseLost(Exception):
    """Another worker holds the job now (this one was too slow to renew its lease)."""


class Worker:
    def __init__(self, engine: Engine, cfg: WorkerConfig | None = None,
                 owner: str | None = None) -> None:
        self.engine, self.cfg = engine, cfg or WorkerConfig()
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{id(self) % 10000}"
        self.processed: list[int] = []

    # -- batching --
    def batch(self) -> list[int]:
        cutoff = now() - self.cfg.window
        with Session(self.engine) as s:
            deps = s.execute(select(DeletionRequest.deployment_id).where(
                DeletionRequest.state == "committed", DeletionRequest.created <= cutoff)
                .distinct()).scalars().all()
        made = []
        for dep in deps:
            with tx(self.engine) as s:
                # Locks the deployment (PostgreSQL row lock; SQLite: the write lock).
                s.execute(update(Deployment).where(Deployment.id == dep)
                          .values(batch_seq=Deployment.batch_seq + 1))
                if s.scalar(select(func.count()).select_from(Job).where(
                        Job.deployment_id == dep, Job.state.in_(OPEN_JOB_STATES))):
                    continue
                ids = s.execute(select(DeletionRequest.id).where(
                    DeletionRequest.deployment_id == dep, DeletionRequest.state == "committed")
                    .order_by(DeletionRequest.created, DeletionRequest.id)).scalars().all()
                if not ids:
                    continue
                t = now()
                job = Job(deployment_id=dep, kind="deletions", state="batched", attempts=0,
                          max_attempts=self.cfg.max_attempts, next_attempt=t, created=t,
                          updated=t, parent=s.get(Deployment, dep).current_version)  # type: ignore[union-attr]
                s.add(job)
                s.flush()
                s.execute(update(DeletionRequest).where(DeletionRequest.id.in_(ids))
                          .values(state="batched", job_id=job.id, updated=t))
                audit.append(s, self.owner, "job.batched", deployment_id=dep,
                             object_id=str(job.id), payload={"requests": list(ids)})
                made.append(job.id)
            point("batch.committed")
        return made

    # -- claiming --
    def _claimable(self, t: float) -> Any:
        return and_(Job.next_attempt <= t, or_(
            Job.state.in_(("batched", "failed")),
            and_(Job.state.in_(("unlearning", "verifying")), Job.lease_expires < t)))

    def claim(self) -> int | None:
        with tx(self.engine) as s:
            t = now()
            cond = self._claimable(t)
            if is_postgres(self.engine):
                jid = s.execute(select(Job.id).where(cond).order_by(Job.id).limit(1)
                                .with_for_update(skip_locked=True)).scalar()
                if jid is None:
                    return None
                where = Job.id == jid
            else:
                where = and_(Job.id == select(Job.id).where(cond).order_by(Job.id).limit(1)
                             .scalar_subquery(), cond)
            jid = s.execute(update(Job).where(where).values(
                state="unlearning", lease_owner=self.owner, lease_expires=t + self.cfg.lease,
                attempts=Job.attempts + 1, updated=t).returning(Job.id)).scalar()
            if jid is None:
                return None
            job = s.get(Job, jid)
            assert job is not None
            if job.attempts > job.max_attempts:  # its workers kept dying: stop trying
                job.state, job.lease_owner, job.lease_expires = "parked", None, None
                job.error = f"no worker finished it in {job.max_attempts} attempts (leases " \
                            "expired)"
                s.execute(update(DeletionRequest).where(DeletionRequest.job_id == jid)
                          .values(state="parked", error=job.error, updated=t))
                audit.append(s, self.owner, "job.parked", deployment_id=job.deployment_id,
                             object_id=str(jid), payload={"reason": job.error})
                return None
            s.execute(update(DeletionRequest).where(DeletionRequest.job_id == jid)
                      .values(state="unlearning", updated=t))
            audit.append(s, self.owner, "job.claimed", deployment_id=job.deployment_id,
                         object_id=str(jid), payload={"attempt": job.attempts})
        point("claim.committed")
        return int(jid)

    # -- the loop --
    def run(self, *, until_idle: bool = False, stop: threading.Event | None = None) -> int:
        """Work until ``stop`` is set, or (``until_idle``) until no request or job is open."""
        done = 0
        while stop is None or not stop.is_set():
            self.batch()
            jid = self.claim()
            if jid is None:
                if until_idle and not self._open():
                    return done
                time.sleep(self.cfg.poll)
                continue
            self.process(jid)
            done += 1
        return done

    def _open(self) -> bool:
        with Session(self.engine) as s:
            return bool(s.scalar(select(func.count()).select_from(DeletionRequest).where(
                DeletionRequest.state == "committed")) or s.scalar(
                select(func.count()).select_from(Job).where(Job.state.in_(OPEN_JOB_STATES))))

    def process(self, jid: int) -> None:
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(jid, stop), daemon=True)
        beat.start()
        try:
            self._honour(jid)
            self.processed.append(jid)
        except LeaseLost:
            log.warning("job %s: lease lost to another worker; dropped", jid)
        except VerificationFailed as e:  # not promoted; the report goes into the audit log
            log.warning("job %s: %s", jid, e)
            self._fail(jid, str(e), e.report)
        except Exception as e:  # a job's failure is recorded and retried, never lost
            log.warning("job %s failed: %s: %s", jid, type(e).__name__, e)
            self._fail(jid, f"{type(e).__name__}: {e}")
        finally:
            stop.set()
            beat.join()

    def _heartbeat(self, jid: int, stop: threading.Event) -> None:
        while not stop.wait(self.cfg.lease / 3):
            try:
                with tx(self.engine) as s:
                    s.execute(update(Job).where(Job.id == jid, Job.lease_owner == self.owner)
                              .values(lease_expires=now() + self.cfg.lease))
            except Exception as e:  # the promotion's lease check is what keeps us correct
                log.warning("job %s: heartbeat failed: %s", jid, e)

    def _set_state(self, jid: int, state: str) -> None:
        with tx(self.engine) as s:
            job = s.get(Job, jid)
            if job is None or job.lease_owner != self.owner or job.state not in (
                    "unlearning", "verifying"):
                raise LeaseLost
            job.state, job.updated = state, now()
            s.execute(update(DeletionRequest).where(DeletionRequest.job_id == jid)
                      .values(state=state, updated=job.updated))
            audit.append(s, self.owner, f"job.{state}", deployment_id=job.deployment_id,
                         object_id=str(jid))

    def _honour(self, jid: int) -> None:
        from obliviate.service.exact import set_threads

        set_threads()
        with Session(self.engine) as s:
            job = s.get(Job, jid)
            assert job is not None
            dep = s.get(Deployment, job.deployment_id)
            assert dep is not None
            reqs = s.execute(select(DeletionRequest).where(DeletionRequest.job_id == jid)
                             .order_by(DeletionRequest.id)).scalars().all()
            manifest = s.execute(select(ManifestRow.row_id, ManifestRow.subject,
                                        ManifestRow.deleted_in)
                                 .where(ManifestRow.deployment_id == dep.id)).all()
            parent = s.get(ModelVersion, (dep.id, job.parent)) if job.parent else None
        deleted = {int(r) for r, _, d in manifest if d is not None}
        by_subject: dict[str, list[int]] = {}
        for r, subj, _ in manifest:
            by_subject.setdefault(subj, []).append(int(r))
        rows_of = {q.id: sorted(set(by_subject.get(q.subject, [])) if q.subject is not None
                                else set(json.loads(q.row_ids or "[]"))) for q in reqs}
        new = sorted(set().union(*rows_of.values()) - deleted) if rows_of else []
        def state(x: str) -> None:
            self._set_state(jid, x)

        if dep.policy == "exact":
            path, digest, report, config = self._exact(dep, deleted, new, manifest, state,
                                                       parent)
        elif dep.policy == "approximate":
            from obliviate.service import approximate

            cfg = approximate.ApproxDeployment.from_json(dep.config)
            config = cfg.to_json()
            if job.kind == "retrain":
                path, digest, report = approximate.retrain(cfg, Path(dep.root), deleted, state)
            else:
                assert parent is not None
                path, digest, report = approximate.honour(cfg, Path(dep.root),
                                                          Path(parent.path), deleted, new,
                                                          job.attempts, state)
        else:
            raise NotImplementedError(f"policy {dep.policy!r} has no worker")
        if not report["passed"]:
            failed = [k for k, v in report["checks"].items() if not v]
            got = {k: round(v, 4) for k, v in report.get("metrics", {}).items()
                   if isinstance(v, float)}
            raise VerificationFailed(f"verification failed: {', '.join(failed)} "
                                     f"(metrics {got}, thresholds "
                                     f"{report.get('thresholds')})", report)
        report["requests"] = {q: {"rows": rows, "rows_removed_now": sorted(set(rows) - deleted),
                                  "rows_already_deleted": sorted(set(rows) & deleted)}
                              for q, rows in rows_of.items()}
        if "shard_of" in report:
            shard_of = report.pop("shard_of")
            for q, rows in rows_of.items():
                report["requests"][q]["row_shards"] = shard_of(rows)
        self._promote(jid, dep.id, job.parent, path, digest, new, [q.id for q in reqs],
                      report, config)

    def _exact(self, dep: Deployment, deleted: set[int], new: list[int], manifest: Any,
               state: Any, parent: ModelVersion | None) -> tuple[Path, str, dict[str, Any],
                                                              str]:
        """SISA rebuilt from its checkpoints, or S3T continued from the parent version's
        file (``exact.live_model``), honours ``new``; verified, then saved as a version."""
        from obliviate.service.exact import ExactDeployment, live_model

        cfg = ExactDeployment.from_json(dep.config)
        live = live_model(cfg, Path(dep.root), deleted,
                          (Path(parent.path), parent.sha256) if parent else None)
        evidence = live.delete(new)
        state("verifying")
        point("verifying.committed")
        all_rows = {int(r) for r, _, _ in manifest}
        report = live.verify(evidence, deleted | set(new), all_rows - deleted - set(new))
        if not report["passed"]:
            return Path(), "", report, cfg.to_json()
        path, digest = live.save_version()
        report["file_sha256"] = digest
        report["shard_of"] = live.shard_of
        return path, digest, report, cfg.to_json()

    def _promote(self, jid: int, dep_id: str, parent: int | None, path: Path, digest: str,
                 removed: list[int], req_ids: list[str], report: dict[str, Any],
                 config: str) -> None:
        with tx(self.engine) as s:
            t = now()
            won = s.execute(update(Job).where(
                Job.id == jid, Job.lease_owner == self.owner,
                Job.state.in_(("unlearning", "verifying"))).values(state="deployed", updated=t))
            if won.rowcount != 1:  # type: ignore[attr-defined]
                raise LeaseLost
            dep = s.execute(select(Deployment).where(Deployment.id == dep_id)
                            .with_for_update()).scalar_one()
            if dep.current_version != parent:
                raise RuntimeError(f"deployment {dep_id} moved from version {parent} to "
                                   f"{dep.current_version} under job {jid}")
            number = (s.scalar(select(func.max(ModelVersion.number)).where(
                ModelVersion.deployment_id == dep_id)) or 0) + 1
            method = str(report.get("method", "sisa"))
            s.add(ModelVersion(deployment_id=dep_id, number=number, parent=parent,
                               path=str(path), sha256=digest, method=method, config=config,
                               requests=json.dumps(req_ids), rows_removed=json.dumps(removed),
                               verification=json.dumps(report, sort_keys=True), job_id=jid,
                               created=t))
            if removed:
                s.execute(update(ManifestRow).where(
                    ManifestRow.deployment_id == dep_id, ManifestRow.row_id.in_(removed),
                    ManifestRow.deleted_in.is_(None)).values(deleted_in=number))
            s.execute(update(DeletionRequest).where(DeletionRequest.job_id == jid)
                      .values(state="deployed", version=number, updated=t, error=None))
            s.execute(update(Job).where(Job.id == jid).values(version=number))
            dep.current_version = number
            payload = {"parent": parent, "sha256": digest, "job": jid, "method": method,
                       "requests": req_ids, "rows_removed": removed,
                       "verification_passed": report["passed"]}
            if "shards" in report:
                payload["shards"] = {k: v["rows_sha256"] for k, v in report["shards"].items()}
            if "metrics" in report:
                payload["metrics"] = report["metrics"]
            audit.append(s, self.owner, "version.promoted", deployment_id=dep_id,
                         object_id=str(number), payload=payload)
            for q in req_ids:
                audit.append(s, self.owner, "request.deployed", deployment_id=dep_id,
                             object_id=q, payload={"version": number})
            if dep.policy == "approximate" and method != "retrain":
                self._maybe_schedule_retrain(s, dep, number, t)
            point("promotion.in_txn")
        point("promotion.committed")

    def _maybe_schedule_retrain(self, s: Session, dep: Deployment, number: int,
                                t: float) -> None:
        """After ``budget`` requests honoured approximately since the last full training,
        a retrain job, in the promotion's transaction (it cannot be lost or doubled)."""
        from obliviate.service.approximate import ApproxDeployment

        budget = ApproxDeployment.from_json(dep.config).budget
        since = s.execute(select(ModelVersion.method, ModelVersion.requests).where(
            ModelVersion.deployment_id == dep.id).order_by(ModelVersion.number)).all()
        spent = 0
        for method, reqs in since:
            spent = 0 if method in ("retrain", "initial") else spent + len(json.loads(reqs))
        if spent < budget:
            return
        s.flush()
        job = Job(deployment_id=dep.id, kind="retrain", state="batched", attempts=0,
                  max_attempts=self.cfg.max_attempts, next_attempt=t, created=t, updated=t,
                  parent=number)
        s.add(job)
        s.flush()
        audit.append(s, self.owner, "retrain.scheduled", deployment_id=dep.id,
                     object_id=str(job.id), payload={"approximate_requests": spent,
                                                     "budget": budget, "after_version": number})

    def _fail(self, jid: int, reason: str, report: dict[str, Any] | None = None) -> None:
        with tx(self.engine) as s:
            job = s.get(Job, jid)
            if job is None or job.lease_owner != self.owner or job.state in ("deployed",
                                                                             "parked"):
                return
            t = now()
            parked = job.attempts >= job.max_attempts
            job.state = "parked" if parked else "failed"
            job.error, job.updated, job.lease_owner, job.lease_expires = reason, t, None, None
            job.next_attempt = t + self.cfg.backoff * 2 ** (job.attempts - 1)
            s.execute(update(DeletionRequest).where(DeletionRequest.job_id == jid)
                      .values(state=job.state, error=reason, updated=t))
            audit.append(s, self.owner, f"job.{job.state}", deployment_id=job.deployment_id,
                         object_id=str(jid), payload={"attempt": job.attempts,
                                                      "reason": reason[:500],
                                                      "verification": report})
