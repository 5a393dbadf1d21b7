"""The registry of scenarios, and scenarios built from a user's data file."""

from __future__ import annotations

from pathlib import Path

from obliviate.errors import ObliviateError
from obliviate.experiment import Experiment
from obliviate.tasks.causal_lm.scenario import PeopleData, PeopleScenario
from obliviate.tasks.classification.digits import digits_pool
from obliviate.tasks.classification.forget import SELECTORS
from obliviate.tasks.classification.scenario import Scenario, ScenarioData, check_splits
from obliviate.tasks.classification.split import given_split, positions
from obliviate.tasks.classification.user import load_user_data, load_user_pool
from obliviate.tasks.graph.bundled import graph_scenarios
from obliviate.tasks.graph.scenario import GraphData, GraphScenario
from obliviate.tasks.recommendation.scenario import RecData, RecScenario
from obliviate.tasks.regression.data import diabetes_pool, synthetic_pool
from obliviate.tasks.regression.forget import SELECTORS as REGRESSION_SELECTORS
from obliviate.tasks.regression.scenario import RegressionData, RegressionScenario
from obliviate.types import TrainRecipe

AnyScenario = Scenario | PeopleScenario | RegressionScenario | GraphScenario | RecScenario

SCENARIOS: dict[str, AnyScenario] = {
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
    "diabetes": RegressionScenario(
        name="diabetes",
        description="regression: scikit-learn's diabetes (442 patients, 10 measurements, "
                    "disease progression); MLP; --forget random:F, range:LO:HI, indices:FILE",
        # 50 epochs: test R² 0.41 (a linear fit's is about 0.45), and the forget set of a
        # random 10% still fitted far closer than unseen rows (nMAE 32 vs the oracle's 52).
        load=diabetes_pool, recipe=TrainRecipe(epochs=50, lr=0.01, batch_size=32,
                                               weight_decay=0.0)),
    "outliers": RegressionScenario(
        name="outliers",
        description="regression: 600 synthetic rows of a smooth function of 6 features, 5% "
                    "of the training targets moved 3-5 standard deviations off it (memorised "
                    "by the MLP); --forget outliers forgets exactly those",
        # 300 epochs: the original fits the planted outliers (their nMAE 12 against the
        # oracle's 289), at the cost of its test error (46 against 15).
        load=synthetic_pool, outlier_share=0.05,
        recipe=TrainRecipe(epochs=300, lr=0.01, batch_size=32, weight_decay=0.0)),
    **graph_scenarios(),
    "recsys-small": RecScenario(
        name="recsys-small",
        description="implicit feedback from latent factors (200 users x 300 items, ~5,000 "
                    "interactions, item side features); BPR-MF; --forget user:U, item:I, "
                    "random:F"),
}
# The forget sets `obliviate list` and --help name: the classifiers', and regression's own.
SELECTORS = {**SELECTORS, **{k: v for k, v in REGRESSION_SELECTORS.items()
                             if k not in SELECTORS}}


def get_scenario(name: str) -> AnyScenario:
    if name not in SCENARIOS:
        raise ObliviateError(f"unknown scenario {name!r}; valid scenarios: {', '.join(SCENARIOS)}"
                             " (or --data PATH for your own data)")
    return SCENARIOS[name]


def user_scenario(path: str, label: str | None, split_column: str | None = None,
                  test: str | None = None) -> Scenario:
    """A scenario over the user's own ``.npz`` / CSV file, model chosen from its shape.

    The split is seeded (``SPLIT_SEED``) unless ``split_column`` (a CSV column of train /
    test / holdout) or ``test`` (a file of test rows) gives it (``scenarios.split``).
    """
    if split_column is not None and test is not None:
        raise ObliviateError("give the split once: --split-column or --test, not both")
    # Fail now, with the file's own error, not mid-run.
    pool, marks = load_user_data(path, label, split_column)
    given = given_split(marks, split_column, test, Path(path).name, pool.n_source_rows)
    if given is not None:
        positions(pool, given)
    return Scenario(name=f"user:{path}", description=f"user data from {path}",
                    load=lambda: load_user_pool(path, label, split_column), given_split=given)


def scenario_for(name: str, data: str | None, label: str | None = None,
                 split_column: str | None = None, test: str | None = None,
                 ) -> AnyScenario:
    """Scenario ``name``, or the user's ``data`` file split as ``split_column`` or ``test``
    say (``RunSpec``'s fields of the same names)."""
    own_split = split_column is not None or test is not None
    if data:
        return get_scenario(name).with_data(data, label, split_column, test)
    if own_split:
        raise ObliviateError("--split-column and --test split your own --data file; the "
                             f"scenario {name!r} has its own split")
    return get_scenario(name)


__all__ = ["SCENARIOS", "SELECTORS", "AnyScenario", "PeopleData", "PeopleScenario",
           "RegressionData", "RegressionScenario", "Scenario", "ScenarioData", "check_splits",
           "get_scenario", "scenario_for", "user_scenario"]


def _conforms(c: ScenarioData, lm: PeopleData, reg: RegressionData, g: GraphData,
              rec: RecData) -> tuple[Experiment, ...]:
    """Never called: mypy checks here that every kind's built scenario is an Experiment."""
    return c, lm, reg, g, rec
