"""Models a team registers by hand, as it would without champion: a LightGBM classifier
(scikit-learn API, pandas categories), an XGBoost booster (``xgb.train``, numeric
features only) and a custom ``mlflow.pyfunc.PythonModel`` whose code ships with it."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import mlflow
import mlflow.lightgbm
import mlflow.pyfunc
import mlflow.xgboost
import pandas as pd
from mlflow.models import infer_signature

from champion.tracking.connection import set_mlflow_uris

TITANIC_TEXT = ("Sex", "Deck", "Embarked")
TITANIC_NUMBERS = ("Pclass", "Age", "SibSp", "Parch", "Fare")

# A module of the team's own (written next to the model and logged with it as code).
PYFUNC_SOURCE = '''
import numpy as np
import pandas as pd
import mlflow.pyfunc


class FareRule(mlflow.pyfunc.PythonModel):
    """A deliberately crude model: survival from the sex and the fare alone."""

    def __init__(self, cut):
        self.cut = cut

    def predict(self, context, model_input, params=None):
        fare = pd.to_numeric(model_input["Fare"], errors="coerce").fillna(0.0).to_numpy()
        female = (model_input["Sex"] == "female").to_numpy()
        p = np.clip(0.15 + 0.5 * female + 0.3 * (fare > self.cut), 0.0, 1.0)
        return pd.DataFrame({"prediction": (p > 0.5).astype(int), "probability": p})
'''


def team_experiment(tracking_uri: str, artifacts: Path) -> str:
    set_mlflow_uris(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    found = client.get_experiment_by_name("team-models")
    if found is not None:
        return found.experiment_id
    return client.create_experiment("team-models", artifact_location=artifacts.as_uri())


def _text_as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype({c: object for c in frame.columns if c in TITANIC_TEXT})


def lightgbm_version(experiment: str, name: str, frame: pd.DataFrame, target: str) -> str:
    import lightgbm

    raw = frame.loc[:, [*TITANIC_NUMBERS, *TITANIC_TEXT]]
    x = raw.astype({c: "category" for c in TITANIC_TEXT})
    model = lightgbm.LGBMClassifier(n_estimators=60, verbose=-1, random_state=0)
    model.fit(x, frame[target])
    signature = infer_signature(_text_as_objects(raw), model.predict(x))
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.lightgbm.log_model(
            model, name="model", signature=signature, registered_model_name=name
        )
    return str(info.registered_model_version)


def xgboost_version(experiment: str, name: str, frame: pd.DataFrame, target: str) -> str:
    import xgboost

    x = frame.loc[:, list(TITANIC_NUMBERS)].astype("float64")
    params = {"objective": "binary:logistic", "max_depth": 3, "seed": 0}
    booster = xgboost.train(params, xgboost.DMatrix(x, frame[target]), 80)
    signature = infer_signature(x, booster.predict(xgboost.DMatrix(x)))
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.xgboost.log_model(
            booster, name="model", signature=signature, registered_model_name=name
        )
    return str(info.registered_model_version)


def pyfunc_version(experiment: str, name: str, frame: pd.DataFrame, code_dir: Path) -> str:
    code_dir.mkdir(parents=True, exist_ok=True)
    module = code_dir / "fare_rule.py"
    module.write_text(PYFUNC_SOURCE, encoding="utf-8")
    sys.path.insert(0, str(code_dir))
    try:
        fare_rule = importlib.import_module("fare_rule")
        model = fare_rule.FareRule(cut=30.0)
        inputs = _text_as_objects(frame.loc[:, ["Fare", "Sex"]])
        signature = infer_signature(inputs, model.predict(None, inputs))
        with mlflow.start_run(experiment_id=experiment):
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=model,
                code_paths=[str(module)],
                signature=signature,
                registered_model_name=name,
            )
    finally:
        sys.path.remove(str(code_dir))
        sys.modules.pop("fare_rule", None)
    return str(info.registered_model_version)
