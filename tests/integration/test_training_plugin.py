"""A trainer plug-in (``CHAMPION_TRAINER`` / ``--trainer``): champion cross-validates the
team's function — the leaderboard equals scikit-learn's own cross-validation of it —
refits it on every row, logs and registers the result; a path that does not import or
a function that returns something unusable is one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate

from champion.cli import main
from champion.datasets import load_dataset
from champion.errors import ConfigError, InvalidInputError
from champion.training import TrainConfig, train

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "byo"

BROKEN = """
import numpy as np
from sklearn.linear_model import LinearRegression


def returns_none(frame, target, schema, config):
    return None


def raises(frame, target, schema, config):
    raise ValueError("the team's code has a bug")


def regressor(frame, target, schema, config):
    return LinearRegression().fit(frame[list(schema.numeric)].fillna(0), frame[target])


def numbers_only(frame, target, schema, config):
    from sklearn.ensemble import HistGradientBoostingClassifier
    x = frame[list(schema.numeric)].to_numpy(dtype=float)
    return HistGradientBoostingClassifier(max_iter=5).fit(x, frame[target])


not_a_function = 3
"""


@pytest.fixture
def plugins(monkeypatch, tmp_path):
    (tmp_path / "broken_trainers.py").write_text(BROKEN, encoding="utf-8")
    (tmp_path / "syntax_error.py").write_text("def train(:\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return tmp_path


def _reference_model(frame, schema, seed):
    import team_trainer

    return team_trainer.train(frame, schema.target, schema, TrainConfig(seed=seed))


def test_the_leaderboard_is_the_functions_own_cross_validation(plugins, titanic) -> None:
    config = TrainConfig(trainer="team_trainer:train", folds=4, seed=7)
    result = train(titanic.frame, titanic.schema, config)
    (candidate,) = result.leaderboard
    assert candidate.family == "train" and candidate.folds == 4
    assert result.selection.chosen is candidate and "team_trainer:train" in result.selection.reason

    # scikit-learn's cross-validation of the same function on the same folds
    schema, frame = titanic.schema, titanic.frame
    x, y = frame[list(schema.features)], frame[schema.target]
    folds = StratifiedKFold(n_splits=4, shuffle=True, random_state=7)
    accuracy, recall = [], []
    for train_rows, test_rows in folds.split(x, y):
        model = _reference_model(frame.iloc[train_rows].reset_index(drop=True), schema, 7)
        truth = y.iloc[test_rows].to_numpy()
        # champion's binary scores are at 0.5 (the model's own threshold is 0.4)
        at_half = (model.predict_proba(x.iloc[test_rows])[:, 1] > 0.5).astype(int)
        accuracy.append(np.mean(at_half == truth))
        recall.append(np.sum((at_half == 1) & (truth == 1)) / np.sum(truth == 1))
    assert candidate.cv["accuracy"] == pytest.approx(np.mean(accuracy), abs=1e-12)
    assert candidate.cv["recall"] == pytest.approx(np.mean(recall), abs=1e-12)
    assert candidate.oof is not None and len(candidate.oof[0]) == len(frame)

    shipped = _reference_model(frame, schema, 7)  # the refit on every row
    np.testing.assert_array_equal(result.model.predict(x), shipped.predict(x))
    assert type(result.model).__name__ == "CalibratedThreshold"
    assert result.classes == (0, 1) and result.n_rows == len(frame)


def test_a_regression_trainer_is_scored_like_sklearn(plugins) -> None:
    diamonds = load_dataset("diamonds")
    frame = diamonds.frame.sample(1500, random_state=0).reset_index(drop=True)
    config = TrainConfig(trainer="team_trainer:train", folds=3, seed=1)
    result = train(frame, diamonds.schema, config)
    import team_trainer

    class Wrapped(RegressorMixin, BaseEstimator):  # the function, for cross_validate
        def fit(self, x, y):
            rows = x.assign(**{diamonds.schema.target: y.to_numpy()})
            target = diamonds.schema.target
            self.model_ = team_trainer.train(rows, target, diamonds.schema, TrainConfig(seed=1))
            return self

        def predict(self, x):
            return self.model_.predict(x)

    x, y = frame[list(diamonds.schema.features)], frame[diamonds.schema.target]
    folds = KFold(n_splits=3, shuffle=True, random_state=1)
    scores = cross_validate(Wrapped(), x, y, cv=folds, scoring="neg_mean_absolute_error")
    assert result.leaderboard[0].cv["mae"] == pytest.approx(-scores["test_score"].mean(), 1e-9)
    assert result.task == "regression" and result.metric == "mae"


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        ("team_trainer", InvalidInputError, "must be package.module:function"),
        ("no_such_team_module:train", ConfigError, "cannot import no_such_team_module"),
        ("syntax_error:train", ConfigError, "SyntaxError"),
        ("broken_trainers:missing", ConfigError, "has no 'missing'"),
        ("broken_trainers:not_a_function", ConfigError, "is not a function"),
        ("broken_trainers:returns_none", InvalidInputError, "returned NoneType, which has no"),
        ("broken_trainers:raises", InvalidInputError, "failed on fold 1 of 5: ValueError"),
        ("broken_trainers:regressor", InvalidInputError, "has no predict_proba, classes_"),
        ("broken_trainers:numbers_only", InvalidInputError, "fails on the raw feature frame"),
    ],
)
def test_unusable_trainers_are_one_line(plugins, titanic, path, error, message) -> None:
    with pytest.raises(error) as info:
        train(titanic.frame, titanic.schema, TrainConfig(trainer=path))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_the_cli_refuses_a_bad_trainer_before_touching_anything(plugins, capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["train", "--dataset", "titanic", "--trainer", "no_such_team_module:train"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "cannot import no_such_team_module" in err
    assert len(err.strip().splitlines()) == 1


def test_shipped_model_scores_rows_with_missing_values(plugins, titanic) -> None:
    result = train(titanic.frame, titanic.schema, TrainConfig(trainer="team_trainer:train"))
    rows = titanic.frame[list(titanic.schema.features)].head(3).copy()
    rows.loc[0, ["Age", "Deck"]] = [np.nan, np.nan]
    assert len(result.model.predict(rows)) == 3
    assert isinstance(result.model.predict_proba(rows), np.ndarray)
    assert pd.api.types.is_integer_dtype(pd.Series(result.model.predict(rows)))
