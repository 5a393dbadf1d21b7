"""What the dashboard tests share: a served store, JSON requests, and driving the page."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.error import HTTPError

import numpy as np

from obliviate.storage.store import Store
from obliviate.views.dashboard import DashboardServer, make_server


def serve(store: Store) -> Iterator[DashboardServer]:
    server = make_server(store, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def get(server: DashboardServer, path: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(server.url.rstrip("/") + path, timeout=10) as r:
            return r.status, json.loads(r.read())
    except HTTPError as e:
        with e:
            return e.code, json.loads(e.read())


def open_page(browser: Any, url: str) -> str:
    """Load ``url`` and wait until the page settles; returns its state."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    return str(WebDriverWait(browser, 15).until(
        lambda d: d.find_element("tag name", "body").get_attribute("data-state")
        if d.find_element("tag name", "body").get_attribute("data-state") != "loading"
        else False))


def pick(browser: Any, a: str, b: str) -> None:
    from selenium.webdriver.support.ui import Select, WebDriverWait

    Select(browser.find_element("id", "run-a")).select_by_value(a)
    Select(browser.find_element("id", "run-b")).select_by_value(b)

    def ready(d: Any) -> bool:
        c = d.find_element("id", "comparison")
        return bool(d.find_element("tag name", "body").get_attribute("data-state") == "ready"
                    and c.get_attribute("data-a") == a and c.get_attribute("data-b") == b)

    WebDriverWait(browser, 15).until(ready)


def value(browser: Any, css: str) -> float:
    return float(browser.find_element("css selector", css).get_attribute("data-value"))


def rate(scores: np.ndarray, t: float) -> float:
    return float(np.mean(scores.astype(np.float64) >= t))


def options(browser: Any, select_id: str) -> dict[str, list[str]]:
    """The values a picker offers, by the label of their <optgroup>."""
    out: dict[str, list[str]] = {}
    for group in browser.find_elements("css selector", f"#{select_id} optgroup"):
        out[str(group.get_attribute("label"))] = [
            str(o.get_attribute("value")) for o in group.find_elements("tag name", "option")]
    return out
