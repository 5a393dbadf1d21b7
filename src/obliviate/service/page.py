"""The Deletions page: a deployment's requests and their states, its model versions and each
version's verification (pass/fail per check, shards retrained, position in the audit chain).

Served by the service itself (``GET /deletions``), not by the dashboard: the dashboard reads
run records only and has no tokens, while this page shows ledger data that belongs to a
tenant. The page is a static shell holding no data; its script asks for a token, keeps it in
the tab's ``sessionStorage`` only, and reads everything through the same JSON API (``read``
scope, the token's tenant only: another tenant's deployment is a 404 there as everywhere).
Every value is written with ``textContent``, never as HTML: subjects are user strings.
"""

# No "from __future__ import annotations": FastAPI reads the handlers' annotations.
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import Response

STATIC = Path(__file__).with_name("static")
# The page loads nothing but its own script and talks only to this server.
CSP = ("default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; "
       "img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")


def add_page(app: FastAPI) -> None:
    def static(name: str, media: str) -> Response:
        return Response((STATIC / name).read_bytes(), media_type=media,
                        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store",
                                 "X-Content-Type-Options": "nosniff"})

    @app.get("/deletions", include_in_schema=False)
    def page() -> Response:
        return static("deletions.html", "text/html; charset=utf-8")

    @app.get("/deletions.js", include_in_schema=False)
    def script() -> Response:
        return static("deletions.js", "text/javascript; charset=utf-8")
