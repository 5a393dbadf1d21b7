"""The service's subcommands: ``serve``, ``worker``, ``deploy`` and ``audit verify``."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from obliviate.errors import ObliviateError

DB_HELP = ("ledger URL: sqlite:///ledger.db (default, WAL) or "
           "postgresql+psycopg://user@host/db")


def add_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    s = command("serve", "the deletion-request HTTP API (OpenAPI at /openapi.json)")
    s.add_argument("--db", required=True, help=DB_HELP)
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    s.add_argument("--rate", type=float, default=None, help="per-token rate limit, requests/s "
                   "(default: limits.RateLimit's; 0 turns the limit off)")
    s.add_argument("--burst", type=int, default=None, help="requests a token may send at once")
    w = command("worker", "honour committed deletion requests: batch, unlearn, verify, "
                "promote a new model version")
    w.add_argument("--db", required=True, help=DB_HELP)
    w.add_argument("--lease", type=float, default=30.0, help="seconds a claimed job is held "
                   "without a heartbeat (default 30)")
    w.add_argument("--poll", type=float, default=1.0, help="seconds between looks when idle")
    w.add_argument("--window", type=float, default=0.0, help="coalescing window: batch a "
                   "deployment's requests once the oldest is this many seconds old")
    w.add_argument("--max-attempts", type=int, default=5)
    w.add_argument("--backoff", type=float, default=2.0, help="seconds before the first "
                   "retry of a failed job, doubled for each later one")
    w.add_argument("--until-idle", action="store_true",
                   help="exit once no request or job is open (default: run forever)")
    d = command("deploy", "train and register a deployment; prints its id and an admin token")
    d.add_argument("--db", required=True, help=DB_HELP)
    d.add_argument("--scenario", default="digits")
    d.add_argument("--data", default=None, help="your own CSV instead of --scenario (read as "
                   "by obliviate run --data; pinned by its sha256)")
    d.add_argument("--label", default=None, help="the label column of the --data CSV")
    d.add_argument("--subject-column", default=None, help="the --data column saying whose "
                   "data each row is: a deletion by subject removes exactly those rows "
                   "(default: row r belongs to user-<r mod --subjects>)")
    d.add_argument("--train", default=None, help="exact: sisa:KEY=VALUE,... (SISAConfig "
                   "fields: shards, slices, epochs_per_slice, aggregation; default "
                   "sisa:shards=5) or s3t:KEY=VALUE,... (S3TConfig fields: shards, slices, "
                   "orders, rank, width, epochs_per_layer, lr, batch_size, aggregation; "
                   "e.g. s3t:orders=2); approximate: full (one model on every row)")
    d.add_argument("--policy", default="exact", help="exact (SISA: retrain the affected "
                   "shards; S3T: switch off the layers that saw a deleted row, retraining "
                   "a shard only when it has none left) or approximate (--method, verified "
                   "against --thresholds)")
    d.add_argument("--method", default=None, help="approximate: the obliviate method "
                   "(e.g. ft, neggrad+, scrub, salun)")
    d.add_argument("--set", dest="method_set", action="append", default=[],
                   metavar="KEY=VALUE", help="approximate: a field of the method's config")
    d.add_argument("--thresholds", default=None, help="approximate: mia_auc_max=..,"
                   "loss_ks_p_min=..,forget_acc_gap_max=.. (defaults: approximate.Thresholds)")
    d.add_argument("--budget", type=int, default=None, help="approximate: deletion requests "
                   "honoured approximately before a full retrain is scheduled (default 10)")
    d.add_argument("--epochs", type=int, default=None, help="training epochs (default: the "
                   "scenario's recipe)")
    d.add_argument("--subjects", type=int, default=200,
                   help="row r belongs to subject user-<r mod N> (default 200)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--root", type=Path, default=None, help="where checkpoints and model "
                   "versions live (default: <home>/service)")
    g = command("ledger", "the ledger's schema: its version, or upgrade an older ledger in "
                "place (keeps every request, version and audit entry)")
    g.add_argument("action", choices=("upgrade", "version"))
    g.add_argument("--db", required=True, help=DB_HELP)
    a = command("audit", "check the ledger's hash-chained audit log")
    a.add_argument("action", choices=("verify",))
    a.add_argument("--db", required=True, help=DB_HELP)
    a.add_argument("--public-key", default=None, help="the ledger's Ed25519 public key (hex, "
                   "printed by deploy) to check the signatures against, instead of the one "
                   "stored in the ledger")


def dispatch(args: argparse.Namespace, home: Path) -> int:
    from obliviate.service.ledger import connect, open_ledger

    if args.command == "serve":
        if not 0 <= args.port < 65536:
            raise ObliviateError(f"--port {args.port}: want 0..65535")
        import uvicorn

        from obliviate.service.api import create_app
        from obliviate.service.limits import RateLimit

        limit: RateLimit | None = RateLimit()
        try:
            if args.rate == 0:
                limit = None
            elif args.rate is not None or args.burst is not None:
                limit = dataclasses.replace(
                    RateLimit(), **{k: v for k, v in (("rate", args.rate),
                                                      ("burst", args.burst)) if v is not None})
        except ValueError as e:
            raise ObliviateError(str(e)) from None
        app = create_app(open_ledger(args.db), limit=limit)
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
        return 0
    if args.command == "worker":
        from obliviate.service.worker import Worker, WorkerConfig

        try:
            cfg = WorkerConfig(lease=args.lease, poll=args.poll, window=args.window,
                               max_attempts=args.max_attempts, backoff=args.backoff)
        except ValueError as e:
            raise ObliviateError(str(e)) from None
        logging.getLogger("obliviate.worker").setLevel(logging.INFO)
        worker = Worker(open_ledger(args.db), cfg)
        try:
            n = worker.run(until_idle=args.until_idle)
        except KeyboardInterrupt:
            return 130
        print(f"worker: {n} job(s) done", file=sys.stderr)
        return 0
    if args.command == "deploy":
        from obliviate.service.deploy import deploy

        engine = open_ledger(args.db)
        reg = deploy(engine, root=args.root or home / "service",
                     scenario=args.scenario, train=args.train, policy=args.policy,
                     seed=args.seed, epochs=args.epochs, subjects=args.subjects,
                     method=args.method, method_set=args.method_set,
                     thresholds=args.thresholds, budget=args.budget, data=args.data,
                     label=args.label, subject_column=args.subject_column)
        print(f"deployment: {reg.deployment_id}")
        print(f"admin token: {reg.token}")
        print(f"rows: {reg.rows}, version 1 sha256 {reg.version_sha256}")
        from obliviate.service.ledger import AuditKey, Session

        with Session(engine) as s:
            key = s.get(AuditKey, 1)
        print(f"audit public key: {key.public_key if key else '?'}")
        return 0
    if args.command == "ledger":
        from obliviate.service import schema

        if args.action == "version":
            f = schema.found(connect(args.db))
            state = "no ledger" if f.revision is None else f"schema version {f.revision}" + (
                "" if f.stamped else " (inferred from its columns)")
            print(f"ledger: {state}; this obliviate needs {schema.HEAD}")
            return 0 if f.revision in (None, schema.HEAD) else 1
        up = schema.upgrade(args.db)
        if up.before == up.after and not up.signed:
            print(f"ledger: already at schema version {up.after}")
        elif up.before == up.after:
            print(f"ledger: at schema version {up.after}; {up.signed} audit entries signed (an "
                  f"earlier upgrade stopped before signing); audit: {up.entries} entries, "
                  "chain and signatures verify")
        else:
            print(f"ledger: upgraded from schema version {up.before} to {up.after}; "
                  f"{up.signed} audit entries signed; audit: {up.entries} entries, chain and "
                  "signatures verify")
        return 0
    if args.command == "audit":
        from obliviate.service.audit import verify

        report = verify(open_ledger(args.db, create=False), public_key=args.public_key)
        if report.ok:
            print(f"audit: {report.entries} entries, chain and signatures verify")
            return 0
        print(f"audit: BROKEN at entry {report.broken}: {report.reason}", file=sys.stderr)
        return 1
    raise AssertionError(args.command)
