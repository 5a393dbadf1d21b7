"""``obliviate deploy``: train a deployment's first model version and register it.

Writes the deployment row, its training-data manifest, version 1 (the trained ensemble as
safetensors with its sha256), an admin token for a new tenant, and the audit entries, in one
transaction: a deployment is either wholly registered or absent.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from obliviate.config import parse_assignments
from obliviate.errors import ObliviateError
from obliviate.service import audit
from obliviate.service import data as rows_of
from obliviate.service.ledger import (
    Deployment,
    ManifestRow,
    ModelVersion,
    new_id,
    now,
    tx,
)
from obliviate.service.tokens import SCOPES, create_token


@dataclass(frozen=True)
class Registered:
    deployment_id: str
    tenant: str
    token: str
    version_sha256: str
    rows: int


def parse_train(text: str) -> tuple[str, dict[str, Any]]:
    """``sisa:shards=3,slices=2`` -> ("sisa", {"shards": 3, "slices": 2}), as ``obliviate
    run --train`` reads it (``guaranteed/adapter.py``); the exact policy trains sisa or s3t
    (``exact.METHODS``)."""
    from obliviate.service.exact import METHODS

    if text.partition(":")[0] not in METHODS:
        raise ObliviateError(f"--train {text!r}: the exact policy trains one of "
                             f"{', '.join(METHODS)} (e.g. sisa:shards=5,slices=4 or "
                             "s3t:orders=2)")
    from obliviate.guaranteed.adapter import parse_train as parse

    return parse(text)


def deploy(engine: Engine, *, root: Path, scenario: str, train: str | None, policy: str,
           seed: int = 0, epochs: int | None = None, subjects: int = 200,
           tenant: str | None = None, name: str | None = None, method: str | None = None,
           method_set: list[str] | None = None, thresholds: str | None = None,
           budget: int | None = None, data: str | None = None, label: str | None = None,
           subject_column: str | None = None) -> Registered:
    """``data``: the user's own CSV (``label`` and ``subject_column`` name its columns)
    instead of ``scenario``; pinned by its sha256 (``service/data.py``)."""
    table: dict[str, Any] = {"scenario": scenario}
    if data is not None:
        file, pinned = rows_of.pin(data)
        table = {"data": file, "label": label, "subject_column": subject_column,
                 "data_sha256": pinned, "scenario": f"user:{Path(file).name}"}
    elif label is not None or subject_column is not None:
        raise ObliviateError("--label and --subject-column name columns of your own --data "
                             "CSV; give --data FILE")
    if policy == "approximate":
        return _deploy_approximate(engine, root=root, table=table, train=train,
                                   seed=seed, epochs=epochs, subjects=subjects, tenant=tenant,
                                   name=name, method=method, method_set=method_set or [],
                                   thresholds=thresholds, budget=budget)
    if policy != "exact":
        raise ObliviateError(f"--policy {policy!r}: valid policies are exact (SISA shard "
                             "retraining) and approximate (a named method, verified)")
    given = [f for f, v in (("--method", method), ("--set", method_set),
                            ("--thresholds", thresholds), ("--budget", budget)) if v]
    if given:
        raise ObliviateError(f"{', '.join(given)}: only for --policy approximate")
    learner, overrides = parse_train(train or "sisa:shards=5")
    from obliviate.service.exact import ExactDeployment, live_model, set_threads

    set_threads()
    dep_id = new_id("dep", 6)
    root = (root / dep_id).resolve()
    try:
        cfg = ExactDeployment(seed=seed, epochs=epochs, subjects=subjects, method=learner,
                              sisa=overrides if learner == "sisa" else {},
                              s3t=overrides if learner == "s3t" else {}, **table)
        live = live_model(cfg, root, set(), None)
    except ValueError as e:
        raise ObliviateError(str(e)) from None
    path, digest = live.save_version()
    manifest = live.manifest()
    report = {"guarantee": "exact", "method": learner, "initial": True,
              "shards": live.shard_report(), "rows": len(manifest)}
    return _register(engine, dep_id, root, tenant, name or f"{cfg.scenario}-{learner}",
                     policy, cfg.to_json(), manifest, path, digest, learner, report)


def _deploy_approximate(engine: Engine, *, root: Path, table: dict[str, Any],
                        train: str | None,
                        seed: int, epochs: int | None, subjects: int, tenant: str | None,
                        name: str | None, method: str | None, method_set: list[str],
                        thresholds: str | None, budget: int | None) -> Registered:
    if train not in (None, "full"):
        raise ObliviateError(f"--train {train!r}: the approximate policy trains one model "
                             "on every row ('full', the default)")
    if not method:
        from obliviate.methods import METHODS

        valid = [k for k, v in METHODS.items() if "classification" in v.tasks]
        raise ObliviateError(f"--policy approximate needs --method NAME; valid: "
                             f"{', '.join(valid)}")
    items = [x for x in (thresholds or "").split(",") if x]
    from obliviate.service import approximate as ap
    from obliviate.service.exact import manifest_rows, set_threads

    set_threads()
    cfg = ap.ApproxDeployment(seed=seed, epochs=epochs, subjects=subjects,
                              method=method, method_config=parse_assignments(method_set),
                              thresholds=parse_assignments(items), **table)
    if budget is not None:  # the default lives in ApproxDeployment only
        cfg = dataclasses.replace(cfg, budget=budget)
    dep_id = new_id("dep", 6)
    root = (root / dep_id).resolve()
    d, subject_of = rows_of.build(cfg)
    trained = d.train_split()
    model = ap.train_full(d, trained, seed)
    path, digest = ap.save(root, model)
    manifest = manifest_rows(trained, subject_of)
    report = {"guarantee": "none (trained on every row)", "method": "train", "initial": True,
              "rows": len(manifest)}
    return _register(engine, dep_id, root, tenant, name or f"{cfg.scenario}-{method}",
                     "approximate", cfg.to_json(), manifest, path, digest, "train", report)


def _register(engine: Engine, dep_id: str, root: Path, tenant: str | None, name: str,
              policy: str, config: str, manifest: list[tuple[int, str, str]], path: Path,
              digest: str, method: str, report: dict[str, Any]) -> Registered:
    tenant = tenant or new_id("ten", 4)
    with tx(engine) as s:
        t = now()
        s.add(Deployment(id=dep_id, tenant=tenant, name=name,
                         policy=policy, config=config, root=str(root),
                         current_version=1, batch_seq=0, created=t))
        s.flush()
        s.add_all([ManifestRow(deployment_id=dep_id, row_id=r, content_sha256=h, subject=u,
                               deleted_in=None) for r, h, u in manifest])
        s.add(ModelVersion(deployment_id=dep_id, number=1, parent=None, path=str(path),
                           sha256=digest, method=method, config=config,
                           requests="[]", rows_removed="[]",
                           verification=json.dumps(report, sort_keys=True), job_id=None,
                           created=t))
        tok, secret = create_token(s, tenant, SCOPES, f"admin token of {dep_id}")
        audit.append(s, "deploy", "deployment.created", deployment_id=dep_id,
                     object_id=dep_id, payload={"tenant": tenant, "policy": policy,
                                                "config": json.loads(config),
                                                "rows": len(manifest)})
        audit.append(s, "deploy", "version.promoted", deployment_id=dep_id, object_id="1",
                     payload={"parent": None, "sha256": digest, "initial": True})
        audit.append(s, "deploy", "token.created", deployment_id=dep_id, object_id=tok.id,
                     payload={"tenant": tenant, "scopes": list(SCOPES)})
    return Registered(dep_id, tenant, secret, digest, len(manifest))
