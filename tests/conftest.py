"""Shared fixtures: a tiny digits scenario (MLP, 10 epochs) trained once per session, an
untrained tiny language-model pair, and a headless Chromium for the dashboard's page."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

from obliviate.runner import Trained, Workspace
from obliviate.scenarios import SCENARIOS, ScenarioData
from obliviate.tasks.classification.models import build_model
from obliviate.tasks.classification.training import train

torch.set_num_threads(int(os.environ.get("OBLIVIATE_THREADS", "1")))

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")

TINY = replace(SCENARIOS["digits"], model="mlp", recipe=replace(SCENARIOS["digits"].recipe,
                                                                  epochs=10))


def tiny_data(forget: str = "class:3", seed: int = 0) -> ScenarioData:
    return TINY.build(forget, seed)


def train_pair(data: ScenarioData) -> Trained:
    models = {}
    for role, split in (("original", data.train_split()), ("oracle", data.retain)):
        m = build_model(data.model, data.pool.input_shape, data.n_classes, data.seed)
        models[role] = train(m, split, data.task, data.recipe, seed=data.seed, progress=False)
    meta = {r: {"seconds": 1.0, "forward": 1, "backward": 1} for r in models}
    return Trained(data, models["original"], models["oracle"], meta)


def untrained_lm_pair(forget: str = "people:0.34") -> Trained:
    """The tiny people scenario (forget people:0.34) with untrained GPT-2s (no training: fast);
    the oracle is perturbed so its answers and truth ratios differ from the original's."""
    from test_lm_pipeline import TINY  # imported only by the tests that ask for a language model

    SCENARIOS["people-tiny"] = TINY  # so that run() finds the scenario by name
    data = TINY.build(forget, 0)
    original, oracle = data.new_model().eval(), data.new_model().eval()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in oracle.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    meta = {r: {"seconds": 1.0, "forward": 1, "backward": 1} for r in ("original", "oracle")}
    return Trained(data, original, oracle, meta)


@pytest.fixture(scope="session")
def tiny_class() -> Trained:
    """Digits, forget class 3, MLP trained 10 epochs (about a second)."""
    return train_pair(tiny_data("class:3"))


@pytest.fixture(scope="session")
def tiny_random() -> Trained:
    return train_pair(tiny_data("random:0.1"))


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "home")


@pytest.fixture
def fresh(tiny_class: Trained) -> Trained:
    """A copy of the class-forget pair that a test may modify."""
    return copy.deepcopy(tiny_class)


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Debian's headless Chromium through Selenium, one for the session (it takes seconds to
    start)."""
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.skip("Debian's chromium and chromium-driver are not installed "
                    "(scripts/setup.sh installs them)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1300,1400",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(flag)
    # The driver's path is given, so Selenium Manager never looks for (or downloads) one.
    driver = webdriver.Chrome(options=opts, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()
