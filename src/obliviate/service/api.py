"""``obliviate serve``: the HTTP API (FastAPI; OpenAPI at ``/openapi.json``).

A deletion is acknowledged (202 and a request id) only after the transaction holding it has
committed; the same idempotency key on the same deployment gives back the same request id.
Every id is looked up within the token's tenant, so another tenant's deployment or request
is a 404 exactly like an id that does not exist. Every bad request is a 4xx whose
``error`` names the problem: unknown fields, wrong types, oversized bodies (413), missing or
bad tokens (401), a missing scope (403).
"""

# No "from __future__ import annotations": FastAPI reads the handlers' annotations, which
# name aliases local to create_app.
import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Engine, exc, func, select
from sqlalchemy.orm import Session

from obliviate.service import audit
from obliviate.service.ledger import (
    AuditEntry,
    DeletionRequest,
    Deployment,
    ManifestRow,
    ModelVersion,
    Token,
    new_id,
    now,
    tx,
)
from obliviate.service.limits import Buckets, RateLimit
from obliviate.service.page import add_page
from obliviate.service.tokens import Principal, TokenChecker, create_token
from obliviate.service.versions_api import add_routes

MAX_BODY = 64 * 1024  # bytes; a deletion request is a few hundred
MAX_ROWS = 1000  # row ids in one request
KEY = r"^[A-Za-z0-9._:\-]{1,128}$"
SUBJECT = r"^[^\x00-\x1f\x7f]{1,256}$"  # no control characters (PostgreSQL refuses NUL)
ROW_MAX = 2**62  # row ids are BIGINT
DEFAULT_LIMIT = RateLimit()


class DeletionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    subject: Annotated[str, Field(pattern=SUBJECT)] | None = None
    row_ids: Annotated[list[Annotated[int, Field(ge=0, le=ROW_MAX)]],
                       Field(min_length=1, max_length=MAX_ROWS)] | None = None
    idempotency_key: Annotated[str, Field(pattern=KEY)]

    @model_validator(mode="after")
    def one_target(self) -> "DeletionIn":
        if (self.subject is None) == (self.row_ids is None):
            raise ValueError("give exactly one of subject or row_ids")
        return self


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    scopes: Annotated[list[Annotated[str, Field(pattern="^(submit|read|admin)$")]],
                      Field(min_length=1, max_length=3)]
    label: Annotated[str, Field(pattern=r"^[^\x00-\x1f\x7f]{0,200}$")] = ""


class Accepted(BaseModel):
    request_id: str
    state: str
    deployment_id: str


def _problem(status: int, message: str, detail: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if detail is not None:
        body["detail"] = detail
    return JSONResponse(status_code=status, content=body)


class BodyLimit:
    """Refuses bodies over ``limit`` bytes (413) before the app reads them, whether or not
    the client sent a Content-Length."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        too_big = _problem(413, f"request body over {self.limit} bytes")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await too_big(scope, receive, send)
            return
        body, more = b"", True
        while more:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
            if len(body) > self.limit:
                await too_big(scope, receive, send)
                return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def create_app(engine: Engine, *, max_body: int = MAX_BODY,
               limit: RateLimit | None = DEFAULT_LIMIT) -> Any:
    """``limit``: the per-token rate limit (None: none)."""
    app = FastAPI(title="obliviate deletion service", version="1",
                  description="Deletion requests honoured on deployed models, with proof.")
    checker = TokenChecker()
    buckets = Buckets(limit) if limit is not None else None

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        errors = e.errors()
        msg = "; ".join(f"{'.'.join(str(p) for p in x.get('loc', ()))}: {x.get('msg')}"
                        for x in errors[:5])
        detail = [{"loc": [str(p) for p in x.get("loc", ())], "msg": str(x.get("msg")),
                   "type": str(x.get("type"))} for x in errors[:20]]
        return _problem(422, msg or "invalid request", detail)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, e: HTTPException) -> JSONResponse:
        return JSONResponse(status_code=e.status_code, content={"error": e.detail},
                            headers=e.headers)

    def principal(scope: str) -> Callable[..., Principal]:
        def check(authorization: Annotated[str | None, Header()] = None) -> Principal:
            if not authorization:
                raise HTTPException(401, "missing Authorization: Bearer <token> header",
                                    {"WWW-Authenticate": "Bearer"})
            kind, _, token = authorization.partition(" ")
            if kind.lower() != "bearer" or not token.strip():
                raise HTTPException(401, "the Authorization header must be 'Bearer <token>'",
                                    {"WWW-Authenticate": "Bearer"})
            with Session(engine) as s:
                who, why = checker.check(s, token.strip())
            if who is None:
                raise HTTPException(401, why, {"WWW-Authenticate": "Bearer"})
            if scope not in who.scopes and "admin" not in who.scopes:
                raise HTTPException(403, f"this token lacks the {scope!r} scope")
            wait = buckets.take(who.token_id) if buckets is not None else 0.0
            if wait > 0:
                assert limit is not None
                raise HTTPException(429, f"rate limit: {limit.rate:g} requests/s per token "
                                         f"(bursts of {limit.burst}); retry after {wait:.2f} s",
                                    {"Retry-After": Buckets.retry_after(wait)})
            return who
        return check

    Submit = Annotated[Principal, Depends(principal("submit"))]
    Read = Annotated[Principal, Depends(principal("read"))]
    Admin = Annotated[Principal, Depends(principal("admin"))]
    DepId = Annotated[str, Path(max_length=40)]
    ReqId = Annotated[str, Path(max_length=40)]

    def deployment(s: Session, who: Principal, dep_id: str) -> Deployment:
        dep = s.get(Deployment, dep_id)
        if dep is None or dep.tenant != who.tenant:  # foreign ids look absent: 404
            raise HTTPException(404, f"no deployment {dep_id!r}")
        return dep

    def request_row(s: Session, who: Principal, dep_id: str, req_id: str) -> DeletionRequest:
        deployment(s, who, dep_id)
        q = s.get(DeletionRequest, req_id)
        if q is None or q.deployment_id != dep_id:
            raise HTTPException(404, f"no deletion request {req_id!r} in deployment "
                                     f"{dep_id!r}")
        return q

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        with Session(engine) as s:
            s.execute(select(1))
        return {"ok": True}

    @app.post("/v1/deployments/{dep_id}/deletions", status_code=202, response_model=Accepted)
    def submit(dep_id: DepId, body: DeletionIn, who: Submit) -> Any:
        target = {"subject": body.subject} if body.subject is not None else {
            "row_ids": sorted(set(body.row_ids or []))}
        digest = hashlib.sha256(json.dumps(target, sort_keys=True).encode()).hexdigest()
        for _ in range(3):  # a concurrent twin with the same key: read the winner's id
            try:
                with tx(engine) as s:
                    deployment(s, who, dep_id)
                    old = s.execute(select(DeletionRequest).where(
                        DeletionRequest.deployment_id == dep_id,
                        DeletionRequest.idempotency_key == body.idempotency_key)).scalar()
                    if old is not None:
                        if old.body_sha256 != digest:
                            raise HTTPException(409, f"idempotency_key "
                                                f"{body.idempotency_key!r} was used for a "
                                                "different deletion in this deployment")
                        return Accepted(request_id=old.id, state=old.state,
                                        deployment_id=dep_id)
                    _check_rows(s, dep_id, body)
                    t = now()
                    q = DeletionRequest(
                        id=new_id("req"), deployment_id=dep_id,
                        idempotency_key=body.idempotency_key, body_sha256=digest,
                        subject=body.subject, row_ids=None if body.row_ids is None else
                        json.dumps(target["row_ids"]), state="committed", token_id=who.token_id,
                        created=t, updated=t)
                    s.add(q)
                    audit.append(s, who.token_id, "request.committed", deployment_id=dep_id,
                                 object_id=q.id, payload={"idempotency_key":
                                                          body.idempotency_key,
                                                          "target_sha256": digest})
                # The transaction has committed: only now is the request acknowledged.
                return Accepted(request_id=q.id, state="committed", deployment_id=dep_id)
            except exc.IntegrityError:
                continue
        raise HTTPException(409, "conflicting concurrent submissions; retry")

    def _check_rows(s: Session, dep_id: str, body: DeletionIn) -> None:
        if body.subject is not None:
            n = s.scalar(select(func.count()).select_from(ManifestRow).where(
                ManifestRow.deployment_id == dep_id, ManifestRow.subject == body.subject))
            if not n:
                raise HTTPException(422, f"subject {body.subject!r} has no rows in "
                                         f"deployment {dep_id!r}")
            return
        ids = sorted(set(body.row_ids or []))
        known = set(s.execute(select(ManifestRow.row_id).where(
            ManifestRow.deployment_id == dep_id, ManifestRow.row_id.in_(ids))).scalars())
        missing = [i for i in ids if i not in known]
        if missing:
            raise HTTPException(422, f"row_ids {missing[:10]} are not training rows of "
                                     f"deployment {dep_id!r}")

    @app.get("/v1/deployments/{dep_id}/deletions")
    def list_requests(dep_id: DepId, who: Read, limit: int = 100,
                      state: str | None = None) -> dict[str, Any]:
        if not 1 <= limit <= 1000:
            raise HTTPException(422, f"limit={limit}: want 1..1000")
        with Session(engine) as s:
            deployment(s, who, dep_id)
            q = select(DeletionRequest).where(DeletionRequest.deployment_id == dep_id)
            if state is not None:
                q = q.where(DeletionRequest.state == state)
            rows = s.execute(q.order_by(DeletionRequest.created).limit(limit)).scalars().all()
            return {"requests": [_request_dict(r) for r in rows]}

    @app.get("/v1/deployments/{dep_id}/deletions/{req_id}")
    def get_request(dep_id: DepId, req_id: ReqId, who: Read) -> dict[str, Any]:
        with Session(engine) as s:
            return _request_dict(request_row(s, who, dep_id, req_id))

    @app.get("/v1/deployments/{dep_id}/deletions/{req_id}/verification")
    def verification(dep_id: DepId, req_id: ReqId, who: Read) -> dict[str, Any]:
        with Session(engine) as s:
            q = request_row(s, who, dep_id, req_id)
            if q.version is None:
                raise HTTPException(404, f"request {req_id!r} is {q.state}: no verification "
                                         "report until it is deployed")
            v = s.get(ModelVersion, (dep_id, q.version))
            assert v is not None
            report = json.loads(v.verification)
            mine = report.get("requests", {}).get(req_id, {})
            return {"request_id": req_id, "version": v.number, "model_sha256": v.sha256,
                    "guarantee": report.get("guarantee"), "passed": report.get("passed"),
                    "checks": report.get("checks"), "rows": mine,
                    "retrained_shards": report.get("retrained_shards"),
                    "untouched_shards": report.get("untouched_shards"),
                    "shards": report.get("shards"),
                    "retained_rows_sha256": report.get("retained_rows_sha256"),
                    "purged_checkpoints": report.get("purged_checkpoints"),
                    "method": report.get("method"), "metrics": report.get("metrics"),
                    "thresholds": report.get("thresholds"),
                    "reference": report.get("reference"),
                    "deactivated_layers": report.get("deactivated_layers"),
                    "served": report.get("served")}

    @app.get("/v1/deployments")
    def list_deployments(who: Read) -> dict[str, Any]:
        """The token's tenant's deployments (never another tenant's)."""
        with Session(engine) as s:
            rows = s.execute(select(Deployment).where(Deployment.tenant == who.tenant)
                             .order_by(Deployment.created)).scalars().all()
            return {"deployments": [{"id": d.id, "name": d.name, "policy": d.policy,
                                     "current_version": d.current_version} for d in rows]}

    @app.get("/v1/deployments/{dep_id}")
    def get_deployment(dep_id: DepId, who: Read) -> dict[str, Any]:
        with Session(engine) as s:
            d = deployment(s, who, dep_id)
            return {"id": d.id, "name": d.name, "policy": d.policy,
                    "config": json.loads(d.config), "current_version": d.current_version}

    @app.get("/v1/deployments/{dep_id}/versions")
    def versions(dep_id: DepId, who: Read) -> dict[str, Any]:
        with Session(engine) as s:
            d = deployment(s, who, dep_id)
            rows = s.execute(select(ModelVersion).where(ModelVersion.deployment_id == dep_id)
                             .order_by(ModelVersion.number)).scalars().all()
            # Where each version's promotion sits in the audit chain (audit verify's seq).
            promoted = {str(o): int(q) for o, q in s.execute(
                select(AuditEntry.object_id, AuditEntry.seq).where(
                    AuditEntry.deployment_id == dep_id,
                    AuditEntry.event == "version.promoted")).all()}
            return {"current": d.current_version, "versions": [
                _version_dict(v, promoted.get(str(v.number))) for v in rows]}

    @app.post("/v1/tokens", status_code=201)
    def new_token(body: TokenIn, who: Admin) -> dict[str, Any]:
        with tx(engine) as s:
            row, secret = create_token(s, who.tenant, tuple(dict.fromkeys(body.scopes)),
                                       body.label)
            audit.append(s, who.token_id, "token.created", object_id=row.id,
                         payload={"tenant": who.tenant, "scopes": row.scopes.split(",")})
        return {"id": row.id, "token": secret, "scopes": row.scopes.split(",")}

    @app.delete("/v1/tokens/{token_id}")
    def revoke(token_id: Annotated[str, Path(max_length=40)], who: Admin) -> dict[str, Any]:
        with tx(engine) as s:
            row = s.get(Token, token_id)
            if row is None or row.tenant != who.tenant:
                raise HTTPException(404, f"no token {token_id!r}")
            if row.revoked is None:
                row.revoked = now()
                audit.append(s, who.token_id, "token.revoked", object_id=row.id)
        return {"id": token_id, "revoked": True}

    add_routes(app, engine, principal("admin"), deployment)
    add_page(app)
    app.add_middleware(BodyLimit, limit=max_body)
    return app


def _request_dict(q: DeletionRequest) -> dict[str, Any]:
    return {"id": q.id, "deployment_id": q.deployment_id,
            "idempotency_key": q.idempotency_key, "state": q.state,
            "subject": q.subject, "row_ids": None if q.row_ids is None else
            json.loads(q.row_ids), "version": q.version, "error": q.error,
            "created": q.created, "updated": q.updated}



def _version_dict(v: ModelVersion, audit_seq: int | None) -> dict[str, Any]:
    report = json.loads(v.verification)
    return {"number": v.number, "parent": v.parent, "sha256": v.sha256, "method": v.method,
            "requests": json.loads(v.requests), "rows_removed": len(json.loads(v.rows_removed)),
            "verified": report.get("passed"), "created": v.created, "pruned": v.pruned is not None,
            "guarantee": report.get("guarantee"), "checks": report.get("checks"),
            "retrained_shards": report.get("retrained_shards"), "audit_seq": audit_seq}
