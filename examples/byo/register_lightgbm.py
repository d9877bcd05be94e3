"""A model a team already has: a LightGBM classifier on Titanic, logged and registered
with plain MLflow (no champion involved), and the table it was trained on as a CSV.

    python examples/byo/register_lightgbm.py titanic.csv

It registers into the MLflow store champion uses (``MLFLOW_TRACKING_URI``, else the
embedded store under ``CHAMPION_HOME``), under ``CHAMPION_MODEL_NAME``
(``champion-model`` by default).
"""

from __future__ import annotations

import sys
from pathlib import Path

import lightgbm
import mlflow
import mlflow.lightgbm
from mlflow.models import infer_signature

from champion.datasets import load_dataset
from champion.settings import load_settings

TEXT = ["Sex", "Deck", "Embarked"]
NUMBERS = ["Pclass", "Age", "SibSp", "Parch", "Fare"]


def main(out: Path) -> None:
    settings = load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    frame = load_dataset("titanic").frame
    frame.to_csv(out, index=False)  # the training table, every column

    x = frame[NUMBERS + TEXT].astype({c: "category" for c in TEXT})
    model = lightgbm.LGBMClassifier(n_estimators=80, verbose=-1, random_state=0)
    model.fit(x, frame["Survived"])
    # the signature says what a request carries: text as strings, numbers as numbers
    signature = infer_signature(frame[NUMBERS + TEXT].astype({c: object for c in TEXT}),
                                model.predict(x))  # fmt: skip

    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("team-models")
    experiment_id = (
        experiment.experiment_id
        if experiment
        else client.create_experiment(
            "team-models", artifact_location=(settings.home / "team-artifacts").resolve().as_uri()
        )
    )
    with mlflow.start_run(experiment_id=experiment_id):
        info = mlflow.lightgbm.log_model(
            model, name="model", signature=signature, registered_model_name=settings.model_name
        )
    print(f"registered models:/{settings.model_name}/{info.registered_model_version}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "titanic.csv"))
