"""The compiled serving path: tree ensembles walked by compiled code and the choice of
path, checked bit for bit against scikit-learn and LightGBM themselves."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import Pipeline

from champion.serving.compiled import Call, CompiledPredictor, PipelinePredictor, build_predictor
from champion.serving.forest import (
    from_hist_gradient_boosting,
    from_lightgbm,
    hist_gradient_boosting_call,
    lightgbm_call,
)
from champion.simulation.replay import records
from champion.training.preprocessing import build_preprocessor


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    y = x[:, 0] + np.sin(3 * x[:, 1]) + 0.5 * x[:, 2] * x[:, 3] + rng.normal(0, 0.3, n)
    return x, y


def _with_gaps(x: np.ndarray, seed: int) -> np.ndarray:
    """``x`` with a tenth of its values missing, and zeros (and -0.0, and values within
    LightGBM's zero band) in the last column."""
    rng = np.random.default_rng(seed)
    x = x.copy()
    x[rng.random(x.shape) < 0.1] = np.nan
    x[: len(x) // 5, -1] = 0.0
    x[len(x) // 5 : len(x) // 4, -1] = -0.0
    x[len(x) // 4 : len(x) // 3, -1] = 1e-36
    return x


def test_walked_hist_gradient_boosting_equals_sklearn_bit_for_bit() -> None:
    x, y = _data(2000, 1)
    clf = HistGradientBoostingClassifier(max_iter=120, max_leaf_nodes=40, random_state=0)
    clf.fit(x, y > 0)
    reg = HistGradientBoostingRegressor(max_iter=80, random_state=0).fit(x, y)
    pois = HistGradientBoostingRegressor(loss="poisson", max_iter=50, random_state=0)
    pois.fit(x, np.exp(y / 2))
    gappy = HistGradientBoostingClassifier(max_iter=60, random_state=0)
    gappy.fit(_with_gaps(x, 5), y > 0)  # missing values learned both ways
    test, _ = _data(500, 2)
    assert np.array_equal(
        from_hist_gradient_boosting(clf).predict(test), clf.predict_proba(test)[:, 1]
    )
    assert np.array_equal(from_hist_gradient_boosting(reg).predict(test), reg.predict(test))
    assert np.array_equal(from_hist_gradient_boosting(pois).predict(test), pois.predict(test))
    holes = _with_gaps(test, 6)
    assert np.array_equal(from_hist_gradient_boosting(gappy).raw(holes),
                          gappy._raw_predict(holes).ravel())  # fmt: skip
    call = hist_gradient_boosting_call(gappy)
    assert call is not None
    for n in (1, 7, 48, 49, 500):
        assert np.array_equal(call(holes[:n]), gappy.predict_proba(holes[:n])[:, 1])


@pytest.mark.parametrize("params", [{}, {"zero_as_missing": True}, {"use_missing": False}])
@pytest.mark.parametrize("objective", ["binary", "regression", "poisson", "huber", "cross_entropy"])
def test_walked_lightgbm_equals_its_booster_bit_for_bit(params, objective) -> None:
    lightgbm = pytest.importorskip("lightgbm")
    x, y = _data(3000, 3)
    x = _with_gaps(x, 7)
    y = y + (x[:, -1] == 0)  # zeros matter, so the zero rule is exercised
    target = {"binary": y > 0.5, "poisson": np.exp(y / 3), "cross_entropy": (y > 0) * 1.0}
    kind = lightgbm.LGBMClassifier if objective == "binary" else lightgbm.LGBMRegressor
    more = {} if objective == "binary" else {"objective": objective}
    model = kind(n_estimators=60, num_leaves=31, verbose=-1, random_state=0, **more, **params)
    booster = model.fit(x, target.get(objective, y)).booster_
    test = _with_gaps(_data(2000, 4)[0], 8)
    forest = from_lightgbm(booster)
    assert np.array_equal(forest.raw(test), booster.predict(test, raw_score=True))
    want = booster.predict(test)
    assert np.allclose(forest.predict(test), want, rtol=1e-14, atol=0)
    call = lightgbm_call(booster)
    assert call is not None
    assert np.allclose(call(test[:3]), want[:3], rtol=1e-14, atol=0)


def test_what_lightgbm_walking_does_not_cover_is_left_to_its_booster() -> None:
    lightgbm = pytest.importorskip("lightgbm")
    x, y = _data(600, 3)
    multiclass = lightgbm.LGBMClassifier(n_estimators=5, verbose=-1)
    assert lightgbm_call(multiclass.fit(x, np.digitize(y, [-1, 1])).booster_) is None
    forest = lightgbm.LGBMRegressor(boosting_type="rf", bagging_freq=1, bagging_fraction=0.5,
                                    n_estimators=5, verbose=-1)  # fmt: skip
    assert lightgbm_call(forest.fit(x, y).booster_) is None
    cats = x.copy()
    cats[:, 4] = np.random.default_rng(0).integers(0, 4, len(x))
    by_category = y + 3 * (cats[:, 4] % 2)  # so the trees split on the category
    categorical = lightgbm.LGBMRegressor(n_estimators=5, verbose=-1, min_child_samples=5)
    booster = categorical.fit(cats, by_category, categorical_feature=[4]).booster_
    assert lightgbm_call(booster) is None


def test_what_the_walked_trees_do_not_cover_is_left_to_sklearn() -> None:
    x, y = _data(600, 3)
    multiclass = HistGradientBoostingClassifier(max_iter=10).fit(x, np.digitize(y, [-1, 1]))
    assert hist_gradient_boosting_call(multiclass) is None
    cats = x.copy()
    cats[:, 4] = np.random.default_rng(0).integers(0, 4, len(x))
    categorical = HistGradientBoostingClassifier(max_iter=10, categorical_features=[4])
    assert hist_gradient_boosting_call(categorical.fit(cats, y > 0)) is None


@pytest.mark.parametrize("threshold", [None, 0.3])
def test_a_champion_hgb_pipeline_is_served_on_the_walked_path(titanic, threshold) -> None:
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
    assert how.startswith("compiled numpy path (trees walked by compiled code")
    rows = records(frame, schema.features)
    features = PipelinePredictor(model, schema.features).frame(rows)  # None -> NaN
    for start in range(0, 200, 20):  # batches of 20 rows
        got = predictor.predict(rows[start : start + 20])
        want_p = model.predict_proba(features.iloc[start : start + 20])[:, 1]
        assert got.labels == model.predict(features.iloc[start : start + 20]).tolist()
        assert np.array_equal(np.asarray(got.probability), want_p)


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_boosters_are_walked_or_called_directly_and_answer_as_their_wrappers(
    titanic, library, task
) -> None:
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
    call = Call.WALK if library == "lightgbm" else Call.BOOSTER
    assert how.startswith(f"compiled numpy path ({call}")
    rows = records(frame, features)
    table = PipelinePredictor(model, features).frame(rows[:300])
    got = predictor.predict(rows[:300])
    if task == "classification":
        assert np.allclose(got.probability, model.predict_proba(table)[:, 1], rtol=1e-12, atol=0)
        assert got.labels == model.predict(table).tolist()
    else:
        assert np.allclose(got.labels, model.predict(table), rtol=1e-12, atol=0)


def test_a_walk_that_disagrees_falls_back_to_the_booster(titanic, monkeypatch) -> None:
    lightgbm = pytest.importorskip("lightgbm")
    frame, schema = titanic.frame, titanic.schema
    estimator = lightgbm.LGBMClassifier(n_estimators=30, num_leaves=15, verbose=-1)
    model = Pipeline([("preprocess", build_preprocessor(schema)), ("model", estimator)])
    model.fit(frame[list(schema.features)], frame[schema.target])
    honest = CompiledPredictor(model, schema.features)
    assert honest.call == Call.WALK
    wrong = honest._direct

    def off_by_a_little(x: np.ndarray) -> np.ndarray:
        return wrong(x) * (1 + 1e-6)

    monkeypatch.setattr("champion.serving.compiled.lightgbm_call", lambda booster: off_by_a_little)
    predictor, how = build_predictor(model, schema.features)
    assert predictor.call == Call.BOOSTER  # the walk lost the verification
    assert how.startswith("compiled numpy path (booster called directly")


@pytest.mark.parametrize("classes", [("died", "survived"), (False, True), ("low", "mid", "high")])
def test_labelled_and_multiclass_answers_are_the_pipelines_own_python_values(
    titanic, classes
) -> None:
    """The compiled path's labels are the model's own labels as plain Python values
    (str, bool; not numpy scalars), for two classes walked and three on the estimator's
    own predict_proba; probabilities as the pipeline's."""
    from sklearn.linear_model import LogisticRegression

    from champion.training.estimator import LabelledClassifier

    frame, schema = titanic.frame, titanic.schema
    features = list(schema.features)
    if len(classes) == 2:
        y = [classes[v] for v in frame[schema.target]]
        inner = HistGradientBoostingClassifier(max_iter=40, random_state=0)
    else:  # the fare in three bands
        y = [classes[int(b)] for b in np.digitize(frame["Fare"].fillna(0), [10, 30])]
        inner = LogisticRegression(max_iter=500)
    pipeline = Pipeline([("preprocess", build_preprocessor(schema)), ("model", inner)])
    model = LabelledClassifier(pipeline, classes).fit(frame[features], y)
    predictor, how = build_predictor(model, features)
    assert how.startswith("compiled numpy path"), how
    rows = records(frame, features)[:150]
    got, want = predictor.predict(rows), PipelinePredictor(model, features).predict(rows)
    assert got.labels == want.labels and set(got.labels) <= set(classes)
    assert {type(v) for v in got.labels} == {type(classes[0])}
    assert np.allclose(got.probability, want.probability, rtol=1e-9, atol=1e-12)
