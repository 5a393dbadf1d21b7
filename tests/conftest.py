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

from obliviate.runner import RunSpec, Trained, Workspace, prepare
from obliviate.scenarios import SCENARIOS, ScenarioData
from obliviate.tasks.causal_lm.scenario import GPT2Size, PeopleScenario
from obliviate.tasks.causal_lm.training import LMRecipe
from obliviate.tasks.classification.models import build_model
from obliviate.tasks.classification.training import train

torch.set_num_threads(int(os.environ.get("OBLIVIATE_THREADS", "1")))

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")

TINY = replace(SCENARIOS["digits"], model="mlp", recipe=replace(SCENARIOS["digits"].recipe,
                                                                  epochs=10))
# 6 fictitious people (2 forgotten), a 64-wide 2-block GPT-2 trained to 95% exact match.
TINY_PEOPLE = PeopleScenario(name="people-tiny", description="tests", n_people=6, n_holdout=3,
                             n_general=4, eval_people=3,
                             recipe=LMRecipe(max_epochs=200, lr=5e-3, check_every=5,
                                             warmup_steps=20),
                             size=GPT2Size(n_embd=64, n_layer=2, n_head=2))


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
    SCENARIOS["people-tiny"] = TINY_PEOPLE  # so that run() finds the scenario by name
    data = TINY_PEOPLE.build(forget, 0)
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


@pytest.fixture(scope="session")
def tiny_people_ws(tmp_path_factory: pytest.TempPathFactory) -> tuple[Trained, Workspace]:
    """The tiny people scenario, forget 2 of 6 people, trained once per session: original,
    oracle and noise floor (an independent retrain), in its own workspace."""
    SCENARIOS["people-tiny"] = TINY_PEOPLE
    ws = Workspace(tmp_path_factory.mktemp("lm"))
    return prepare(RunSpec("ga", "people:0.34", "people-tiny", 0), ws, progress=False), ws


@pytest.fixture(scope="session")
def tiny_people(tiny_people_ws: tuple[Trained, Workspace]) -> Trained:
    return tiny_people_ws[0]


@pytest.fixture(scope="session")
def digits_class3(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """``obliviate run --scenario digits --forget class:3``'s CNN pair (about 4 s)."""
    ws = Workspace(tmp_path_factory.mktemp("contract"))
    return prepare(RunSpec("ft", "class:3", "digits", 0, noise_floor=False), ws, progress=False)


def _prepared(scenario: Any, forget: str, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    SCENARIOS[scenario.name] = scenario  # so that run() finds the scenario by name
    ws = Workspace(tmp_path_factory.mktemp(scenario.name))
    return prepare(RunSpec("ft", forget, scenario.name, 0, noise_floor=False), ws,
                   progress=False)


@pytest.fixture(scope="session")
def tiny_regression(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """150 synthetic rows with 10% planted outliers, forget the outliers (an MLP, ~2 s)."""
    from test_regression import TINY as TINY_REGRESSION

    return _prepared(TINY_REGRESSION, "outliers", tmp_path_factory)


@pytest.fixture(scope="session")
def tiny_graph(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """A 240-node stochastic block model, forget every training node of class 0 (a GCN)."""
    from functools import partial

    from obliviate.tasks.graph.bundled import RECIPE
    from obliviate.tasks.graph.data import stochastic_block_graph
    from obliviate.tasks.graph.scenario import GraphScenario

    sbm = GraphScenario(name="sbm-tiny", hidden=32, recipe=RECIPE, description="tests",
                        load=partial(stochastic_block_graph, "sbm-tiny", per_class=60,
                                     n_classes=4, dim=64, p_in=0.03, p_out=0.01,
                                     separation=0.3, seed=0))
    return _prepared(sbm, "class:0", tmp_path_factory)


@pytest.fixture(scope="session")
def tiny_recommendation(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """40 users x 60 items, forget every interaction with items 1 and 2 (BPR-MF)."""
    from test_recommendation_pipeline import TINY as TINY_RECSYS

    return _prepared(TINY_RECSYS, "item:1,2", tmp_path_factory)
