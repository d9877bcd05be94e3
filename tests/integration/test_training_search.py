"""AutoML training on real data: leaderboard, selection, refit pipeline, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from champion.datasets import infer_schema
from champion.errors import InvalidInputError
from champion.training import TrainConfig, train

FAST = TrainConfig(budget=4, seed=1)


def test_titanic_quick_run_ships_a_raw_frame_pipeline(titanic) -> None:
    result = train(titanic.frame, titanic.schema, FAST)
    assert result.task == "classification" and result.metric == "recall"
    assert len(result.leaderboard) >= 3
    assert result.selection.chosen in result.leaderboard
    board = result.leaderboard_frame()
    assert board["selected"].sum() == 1 and {"accuracy", "roc_auc", "f1"} <= set(board.columns)
    assert list(board["log_loss"]) == sorted(board["log_loss"])  # sorted by the search loss

    # the model takes the raw feature frame, JSON nulls included
    raw = titanic.frame[list(titanic.schema.features)].head(20).copy()
    raw.loc[0, "Deck"] = None
    raw.loc[1, "Age"] = np.nan
    raw.loc[2, "Embarked"] = "Z"  # never seen in training
    predictions = result.model.predict(raw)
    assert set(np.unique(predictions)) <= {0, 1}
    # the shipped decision rule is the tuned threshold on the positive-class probability
    threshold = result.selection.threshold
    assert threshold is not None and 0 < threshold < 1
    proba = result.model.predict_proba(raw)[:, 1]
    assert np.array_equal(predictions, (proba >= threshold).astype(int))
    assert result.cv_scores["recall"] == result.selection.operating_point.recall


def test_default_budget_beats_the_original_pycaret_choice(titanic) -> None:
    """PyCaret compare_models(sort='Recall'): AdaBoost, recall 0.746, precision 0.741."""
    result = train(titanic.frame, titanic.schema, TrainConfig())
    assert result.cv_scores["recall"] >= 0.746
    assert result.cv_scores["precision"] >= 0.74
    # the final refit predicts its own training data sensibly
    y = titanic.frame["Survived"]
    assert skm.recall_score(y, result.model.predict(titanic.frame)) >= 0.7


def test_regression_on_diamonds(diamonds) -> None:
    frame = diamonds.frame.sample(4000, random_state=0)
    result = train(frame, diamonds.schema, FAST)
    assert result.task == "regression" and result.metric == "mae"
    assert result.selection.threshold is None
    # CV MAE well below the spread of prices, R2 high
    assert result.cv_scores["mae"] < 0.25 * frame["price"].std()
    assert result.cv_scores["r2"] > 0.9
    pred = result.model.predict(frame.head(50))
    assert pred.shape == (50,) and np.isfinite(pred).all()


def test_multiclass_with_string_labels(diamonds) -> None:
    frame = diamonds.frame.sample(3000, random_state=1)
    schema = infer_schema(frame, target="cut")
    result = train(frame, schema, TrainConfig(budget=4, metric="f1"))
    assert result.classes == ("Fair", "Good", "Ideal", "Premium", "Very Good")
    predictions = result.model.predict(frame.head(100))
    assert set(predictions) <= set(result.classes)
    assert result.model.predict_proba(frame.head(5)).shape == (5, 5)
    assert 0.3 < result.cv_scores["f1"] <= 1.0


@pytest.mark.parametrize(
    ("mutate", "config", "message"),
    [
        (lambda f: f.assign(Survived=1), FAST, "single class"),
        (lambda f: f.head(30), FAST, "too few rows"),
        (lambda f: f, TrainConfig(metric="mae"), "does not fit a classification task"),
        (lambda f: f.assign(Survived=[0] * 888 + [1] * 3), FAST, "has 3 rows"),
    ],
)
def test_bad_training_input(titanic, mutate, config, message) -> None:
    frame = mutate(titanic.frame.copy())
    with pytest.raises(InvalidInputError, match=message):
        train(frame, titanic.schema, config)


def test_invalid_config() -> None:
    with pytest.raises(InvalidInputError, match="budget must be positive"):
        TrainConfig(budget=0)
    with pytest.raises(InvalidInputError, match="unknown estimator"):
        TrainConfig(estimators=("svm",))


def test_seed_makes_the_search_reproducible(titanic) -> None:
    small = titanic.frame
    cfg = TrainConfig(budget=2, seed=3, estimators=("lrl2",))
    a, b = train(small, titanic.schema, cfg), train(small, titanic.schema, cfg)
    assert a.selection.chosen.config == b.selection.chosen.config
    pd.testing.assert_frame_equal(a.leaderboard_frame(), b.leaderboard_frame())
