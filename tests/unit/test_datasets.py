from __future__ import annotations

import pandas as pd
import pytest

from champion.datasets import infer_schema, load_data, load_dataset, read_table
from champion.errors import InvalidInputError, NotFoundError


def test_bundled_titanic(titanic) -> None:
    assert titanic.frame.shape == (891, 10)
    s = titanic.schema
    assert (s.target, s.task) == ("Survived", "classification")
    assert s.numeric == ("Pclass", "Age", "SibSp", "Parch", "Fare")
    assert s.categorical == ("Sex", "Deck", "Embarked")
    assert s.dropped == ("Name",)  # one distinct value per passenger: an identifier
    assert titanic.frame["Survived"].sum() == 342


def test_bundled_diamonds(diamonds) -> None:
    assert diamonds.frame.shape == (53_940, 10)
    s = diamonds.schema
    assert (s.target, s.task) == ("price", "regression")
    assert set(s.categorical) == {"cut", "color", "clarity"}
    assert len(s.features) == 9


def test_unknown_dataset() -> None:
    with pytest.raises(NotFoundError, match="bundled datasets are: diamonds, titanic"):
        load_dataset("iris")


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_any_table_with_a_target(tmp_path, titanic, suffix: str) -> None:
    path = tmp_path / f"t{suffix}"
    if suffix == ".parquet":
        titanic.frame.to_parquet(path)
    else:
        titanic.frame.to_csv(path, index=False)
    ds = load_data(path, target="Survived")
    assert ds.schema == titanic.schema
    assert len(ds.frame) == 891


def test_task_inference() -> None:
    frame = pd.DataFrame(
        {"x": range(100), "y": [0, 1, 2] * 33 + [0], "z": [0.5 * i for i in range(100)]}
    )
    assert infer_schema(frame, target="y").task == "classification"
    assert infer_schema(frame, target="z").task == "regression"
    assert infer_schema(frame, target="z", task="classification").task == "classification"


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (None, "absent.csv", "file not found"),
        ("", "empty.csv", "is empty"),
        ("a,b\n", "header.csv", "has no rows"),
        ("a,b\n1,2\n", "data.xlsx", "unsupported file type"),
    ],
)
def test_read_table_errors(tmp_path, content, name, message) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(InvalidInputError, match=message):
        read_table(path)


def test_unknown_target_and_features(titanic) -> None:
    with pytest.raises(InvalidInputError, match="target column 'survived' not found"):
        infer_schema(titanic.frame, target="survived")
    with pytest.raises(InvalidInputError, match="unknown column"):
        infer_schema(titanic.frame, features=["Age", "Cabin"])
    explicit = infer_schema(titanic.frame, target="Survived", features=["Name", "Age"])
    assert explicit.categorical == ("Name",) and explicit.numeric == ("Age",)
