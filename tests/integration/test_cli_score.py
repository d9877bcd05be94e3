"""``champion score``: a file scored with a registered version — the predictions equal
the model's own, other columns are kept, bad input is one line and exit 2."""

from __future__ import annotations

import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest

from champion.cli import main


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


@pytest.fixture
def scoring(model_home, monkeypatch, titanic, tmp_path):
    monkeypatch.setenv("CHAMPION_HOME", str(model_home))
    data = tmp_path / "rows.csv"
    titanic.frame.to_csv(data, index=False)  # every column, Name and Survived too
    return data


@pytest.mark.parametrize(
    ("flags", "version"), [([], "1"), (["--alias", "challenger"], "2"), (["--version", "1"], "1")]
)
def test_a_file_is_scored_by_the_version_asked_for(
    scoring, titanic, tmp_path, capsys, flags, version
) -> None:
    out = tmp_path / "scored.parquet"
    code, printed, _ = run(["score", "--data", str(scoring), "--out", str(out), *flags], capsys)
    assert code == 0 and f"scored by v{version}" in printed
    scored = pd.read_parquet(out)
    assert list(scored.columns) == [*titanic.frame.columns, "prediction", "probability"]
    model = mlflow.sklearn.load_model(f"models:/champion-model/{version}")
    want = model.predict(titanic.frame[list(titanic.schema.features)])
    assert (scored["prediction"].to_numpy() == want).all()
    proba = model.predict_proba(titanic.frame[list(titanic.schema.features)])[:, 1]
    assert np.allclose(scored["probability"], proba, rtol=1e-9)


@pytest.mark.parametrize(
    ("change", "flags", "message"),
    [
        (lambda f: f.drop(columns="Age"), [], "no column(s) Age"),
        (
            lambda f: f.assign(Fare=["cheap"] + [1.0] * (len(f) - 1)),
            [],
            "column 'Fare' must be numeric; row 0",
        ),
        (lambda f: f, ["--version", "9"], "has no version 9"),
        (lambda f: f, ["--alias", "best"], "--alias must be one of"),
        (lambda f: f.iloc[:0], [], "has no rows"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    scoring, tmp_path, capsys, change, flags, message
) -> None:
    bad = tmp_path / "bad.csv"
    change(pd.read_csv(scoring)).to_csv(bad, index=False)
    code, _, err = run(
        ["score", "--data", str(bad), "--out", str(tmp_path / "o.csv"), *flags], capsys
    )
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "o.csv").exists()
