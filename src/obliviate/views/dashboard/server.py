"""The dashboard's HTTP server: the static front end and a small JSON API (stdlib only).

``GET /``                       the page (``static/index.html``, ``app.js``, ``classifier.js``,
                                ``lm.js``, ``style.css``)
``GET /api/runs``               every run in the store, with a hint when there are none
``GET /api/compare?a=ID&b=ID``  the comparison payload (``b=@oracle`` / ``@original``: run
                                A's own oracle or original)

Every failure is a JSON ``{"error": message}`` with a 4xx status the page shows as is; an
unexpected exception is a one-line 500, never a traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from obliviate.errors import ObliviateError
from obliviate.storage.store import Store
from obliviate.views.dashboard.compare import compare
from obliviate.views.dashboard.data import MAKE_A_RUN, DashboardError, RunSource

log = logging.getLogger("obliviate.views.dashboard")

STATIC = {"index.html": "text/html", "app.js": "text/javascript",
          "classifier.js": "text/javascript", "lm.js": "text/javascript", "style.css": "text/css"}


class DashboardServer(ThreadingHTTPServer):
    daemon_threads = True  # a slow browser connection never keeps the process alive

    def __init__(self, address: tuple[str, int], source: RunSource) -> None:
        self.source = source
        self.host = address[0]
        super().__init__(address, _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        host = "localhost" if self.host in ("127.0.0.1", "::1", "localhost") else self.host
        return f"http://{host}:{self.port}/"


def make_server(store: Store, *, host: str = "127.0.0.1", port: int = 0) -> DashboardServer:
    """A bound, not yet serving, dashboard server (``port=0``: a free port)."""
    if not 0 <= port < 65536:
        raise ObliviateError(f"port {port} must be in [0, 65535]")
    try:
        return DashboardServer((host, port), RunSource(store))
    except OSError as e:
        hint = "; pick another --port, or --port 0 for a free one" if port else ""
        raise ObliviateError(f"cannot listen on {host}:{port}: {e.strerror or e}{hint}"
                             ) from None


def serve(store: Store, *, host: str = "127.0.0.1", port: int = 8765,
          announce: Callable[[str], None] | None = None) -> int:
    """Serve until Ctrl-C; returns 0 (the CLI's exit code). The URL goes to ``announce``
    (default: stdout, flushed at once so a parent process reading a pipe sees it)."""
    server = make_server(store, host=host, port=port)
    message = f"obliviate dashboard at {server.url}  (Ctrl-C stops it)"
    if announce is None:
        print(message, flush=True)
    else:
        announce(message)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def runs_payload(source: RunSource) -> dict[str, Any]:
    listed = source.listing()
    out: dict[str, Any] = {"runs": listed}
    if not listed:
        out["hint"] = (f"There are no runs in this store yet. Make one with `{MAKE_A_RUN}` "
                       "(same --home or --store as the dashboard), then reload this page.")
    return out


class _Handler(BaseHTTPRequestHandler):
    server: DashboardServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            if url.path in ("/", "/index.html"):
                self._static("index.html")
            elif url.path.startswith("/static/"):
                self._static(url.path.removeprefix("/static/"))
            elif url.path == "/api/runs":
                self._json(HTTPStatus.OK, runs_payload(self.server.source))
            elif url.path == "/api/compare":
                self._json(HTTPStatus.OK, compare(self.server.source, query.get("a"),
                                                  query.get("b")))
            else:
                raise DashboardError(f"no page {url.path!r} here; the dashboard is at /",
                                     status=404)
        except DashboardError as e:
            self._json(HTTPStatus(e.status), {"error": str(e)})
        except ObliviateError as e:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(e)})
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the browser went away; nothing to answer
        except Exception as e:  # last resort: one line for the page, the traceback in the log
            log.exception("dashboard request %s failed", self.path)
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR,
                       {"error": f"internal error ({e.__class__.__name__}: {e}); see the "
                                 "dashboard's log"})

    def _static(self, name: str) -> None:
        if name not in STATIC:  # a fixed list: no path from the URL reaches the file system
            raise DashboardError(f"no static file {name!r}", status=404)
        body = (resources.files("obliviate.views.dashboard") / "static" / name).read_bytes()
        self._send(HTTPStatus.OK, f"{STATIC[name]}; charset=utf-8", body)

    def _json(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
        try:
            body = json.dumps(payload, allow_nan=False).encode()
        except ValueError as e:
            status, body = HTTPStatus.INTERNAL_SERVER_ERROR, json.dumps(
                {"error": f"internal error: the payload holds a non-finite number ({e})"}
            ).encode()
        self._send(status, "application/json", body)

    def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
        log.debug("%s " + format, self.address_string(), *args)
