"""The compiled serving path: stacked HistGradientBoosting trees and the choice of path,
checked bit for bit against scikit-learn itself."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import Pipeline

from champion.serving.compiled import PipelinePredictor, build_predictor
from champion.serving.forest import MAX_STACKED_ROWS, StackedTrees, hist_gradient_boosting_call
from champion.simulation.replay import records
from champion.training.preprocessing import build_preprocessor


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    y = x[:, 0] + np.sin(3 * x[:, 1]) + 0.5 * x[:, 2] * x[:, 3] + rng.normal(0, 0.3, n)
    return x, y


def test_stacked_trees_equal_sklearn_bit_for_bit() -> None:
    x, y = _data(2000, 1)
    clf = HistGradientBoostingClassifier(max_iter=120, max_leaf_nodes=40, random_state=0)
    clf.fit(x, y > 0)
    reg = HistGradientBoostingRegressor(max_iter=80, random_state=0).fit(x, y)
    pois = HistGradientBoostingRegressor(loss="poisson", max_iter=50, random_state=0)
    pois.fit(x, np.exp(y / 2))
    test, _ = _data(500, 2)
    assert np.array_equal(StackedTrees(clf).predict(test), clf.predict_proba(test)[:, 1])
    assert np.array_equal(StackedTrees(reg).predict(test), reg.predict(test))
    assert np.array_equal(StackedTrees(pois).predict(test), pois.predict(test))
    call = hist_gradient_boosting_call(clf)
    assert call is not None
    for n in (1, 7, MAX_STACKED_ROWS, MAX_STACKED_ROWS + 1):  # both sides of the switch
        assert np.array_equal(call(test[:n]), clf.predict_proba(test[:n])[:, 1])
    with_nan = test[:5].copy()
    with_nan[2, 0] = np.nan  # routed by the estimator itself
    assert np.array_equal(call(with_nan), clf.predict_proba(with_nan)[:, 1])


def test_what_the_stacked_trees_do_not_cover_is_left_to_sklearn() -> None:
    x, y = _data(600, 3)
    multiclass = HistGradientBoostingClassifier(max_iter=10).fit(x, np.digitize(y, [-1, 1]))
    assert hist_gradient_boosting_call(multiclass) is None
    cats = x.copy()
    cats[:, 4] = np.random.default_rng(0).integers(0, 4, len(x))
    categorical = HistGradientBoostingClassifier(max_iter=10, categorical_features=[4])
    assert hist_gradient_boosting_call(categorical.fit(cats, y > 0)) is None


@pytest.mark.parametrize("threshold", [None, 0.3])
def test_a_champion_hgb_pipeline_is_served_on_the_stacked_path(titanic, threshold) -> None:
    frame, schema = titanic.frame, titanic.schema
    model = Pipeline(
        [
            ("preprocess", build_preprocessor(schema)),
            ("model", HistGradientBoostingClassifier(max_iter=150, random_state=0)),
        ]
    )
    if threshold is not None:
        model = FixedThresholdClassifier(model, threshold=threshold)
    model.fit(frame[list(schema.features)], frame[schema.target])
    predictor, how = build_predictor(model, schema.features)
    assert how.startswith("compiled numpy path (booster called directly")
    rows = records(frame, schema.features)
    features = PipelinePredictor(model, schema.features).frame(rows)  # None -> NaN
    for start in range(0, 200, 20):  # batches of 20 rows
        got = predictor.predict(rows[start : start + 20])
        want_p = model.predict_proba(features.iloc[start : start + 20])[:, 1]
        assert got.labels == model.predict(features.iloc[start : start + 20]).tolist()
        assert np.array_equal(np.asarray(got.probability), want_p)


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_boosters_are_called_directly_and_answer_as_their_wrappers(titanic, library, task) -> None:
    frame, schema = titanic.frame, titanic.schema
    if task == "regression":  # predict the fare from the other features
        schema = replace(schema, numeric=tuple(c for c in schema.numeric if c != "Fare"))
    features = list(schema.features)
    x = frame[features]
    y = frame[schema.target] if task == "classification" else frame["Fare"]
    if library == "lightgbm":
        lightgbm = pytest.importorskip("lightgbm")
        kind = lightgbm.LGBMClassifier if task == "classification" else lightgbm.LGBMRegressor
        estimator = kind(n_estimators=60, num_leaves=15, random_state=0, verbose=-1)
    else:
        xgboost = pytest.importorskip("xgboost")
        kind = xgboost.XGBClassifier if task == "classification" else xgboost.XGBRegressor
        estimator = kind(n_estimators=60, max_depth=4, random_state=0)
    model = Pipeline([("preprocess", build_preprocessor(schema)), ("model", estimator)])
    model.fit(x, y)
    predictor, how = build_predictor(model, features)
    assert how.startswith("compiled numpy path (booster called directly")
    rows = records(frame, features)
    table = PipelinePredictor(model, features).frame(rows[:300])
    got = predictor.predict(rows[:300])
    if task == "classification":
        assert np.allclose(got.probability, model.predict_proba(table)[:, 1], rtol=1e-12, atol=0)
        assert got.labels == model.predict(table).tolist()
    else:
        assert np.allclose(got.labels, model.predict(table), rtol=1e-12, atol=0)
