"""The registry of scenarios, and scenarios built from a user's data file."""

from __future__ import annotations

from obliviate.data.digits import digits_pool
from obliviate.errors import ObliviateError
from obliviate.experiment import Experiment
from obliviate.scenarios.base import Scenario, ScenarioData, check_splits
from obliviate.scenarios.forget import SELECTORS
from obliviate.scenarios.people import PeopleData, PeopleScenario
from obliviate.types import TrainRecipe

SCENARIOS: dict[str, Scenario | PeopleScenario] = {
    "digits": Scenario(
        name="digits",
        description="scikit-learn's 8x8 digits (1,797 images, 10 classes); small CNN or MLP",
        load=digits_pool, model="cnn", recipe=TrainRecipe(epochs=30, lr=0.05)),
    "digits-noisy": Scenario(
        name="digits-noisy",
        description="digits with 400 training images and 20% wrong labels: the original "
                    "memorises individual samples, so random forgetting is measurable",
        load=digits_pool, model="cnn", train_size=400, label_noise=0.2,
        recipe=TrainRecipe(epochs=60, lr=0.05, batch_size=32, weight_decay=0.0)),
    "people": PeopleScenario(
        name="people",
        description="TOFU-style: a small GPT-2 trained from scratch on 200 fictitious people "
                    "(15 facts and a biography each) and 60 general facts; --forget people:F"),
    "people-small": PeopleScenario(
        name="people-small", n_people=40, n_holdout=10, n_general=20,
        description="the people scenario with 40 people: the demo's and the tests' size"),
}


def get_scenario(name: str) -> Scenario | PeopleScenario:
    if name not in SCENARIOS:
        raise ObliviateError(f"unknown scenario {name!r}; valid scenarios: {', '.join(SCENARIOS)}"
                             " (or --data PATH for your own data)")
    return SCENARIOS[name]


def user_scenario(path: str, label: str | None) -> Scenario:
    """A scenario over the user's own ``.npz`` / CSV file, model chosen from its shape."""
    return SCENARIOS["digits"].with_data(path, label)  # type: ignore[return-value]


__all__ = ["SCENARIOS", "SELECTORS", "PeopleData", "PeopleScenario", "Scenario",
           "ScenarioData", "check_splits",
           "get_scenario", "user_scenario"]


def _conforms(c: ScenarioData, lm: PeopleData) -> tuple[Experiment, Experiment]:
    """Never called: mypy checks here that every kind's built scenario is an Experiment."""
    return c, lm
