"""The CLI through its real entry point: exit codes, one-line errors, outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from champion.cli import main
from champion.simulation.drift import make_traffic


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


@pytest.fixture
def files(tmp_path: Path, titanic) -> dict[str, Path]:
    paths = {
        "ref": tmp_path / "ref.csv",
        "same": tmp_path / "same.csv",
        "drift": tmp_path / "drift.parquet",
    }
    titanic.frame.to_csv(paths["ref"], index=False)
    make_traffic(titanic.frame, 1500, seed=1).to_csv(paths["same"], index=False)
    make_traffic(titanic.frame, 1500, seed=2, drift_cols=["Age", "Fare"]).to_parquet(paths["drift"])
    return paths


def test_no_drift_exits_zero(files, capsys) -> None:
    code, out, _ = run(
        [
            "drift",
            "--reference",
            str(files["ref"]),
            "--current",
            str(files["same"]),
            "--target",
            "Survived",
            "--fail-on-drift",
        ],
        capsys,
    )
    assert code == 0
    assert "no drift" in out and "not monitored" in out and "Name" in out


def test_drift_outputs_and_fail_code(files, tmp_path, capsys) -> None:
    out_json, out_html = tmp_path / "o.json", tmp_path / "o.html"
    args = [
        "drift",
        "--reference",
        str(files["ref"]),
        "--current",
        str(files["drift"]),
        "--target",
        "Survived",
        "--json",
        str(out_json),
        "--html",
        str(out_html),
    ]
    code, out, _ = run(args, capsys)
    assert code == 0 and "DRIFT" in out  # drift alone is not a failure
    data = json.loads(out_json.read_text())
    assert set(data["drifted_features"]) == {"Age", "Fare"}
    assert out_html.read_text().count("data-chart='feature'") == 8
    code, _, _ = run([*args, "--fail-on-drift"], capsys)
    assert code == 3


def test_rule_and_features_options(files, capsys) -> None:
    code, out, _ = run(
        [
            "drift",
            "--reference",
            str(files["ref"]),
            "--current",
            str(files["drift"]),
            "--features",
            "Sex,Embarked",
            "--rule",
            "mean_psi",
            "--fail-on-drift",
        ],
        capsys,
    )
    assert code == 0 and "mean PSI" in out and "Age" not in out


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing-file", "file not found"),
        ("unknown-column", "unknown column(s) 'Cabin'"),
        ("non-numeric", "must be numeric but holds 'old'"),
        ("empty", "has no rows"),
        ("target-missing", "no column(s) 'Survived'"),
        ("bad-setting", "DRIFT_THRESHOLD='-1'"),
        ("bad-rule", "rule must be one of"),
        ("unknown-option", "No such option: --bogus"),
        ("bad-number", "Invalid value for '--bins'"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    case, message, files, tmp_path, capsys, monkeypatch
) -> None:
    ref, cur = str(files["ref"]), str(files["same"])
    extra: list[str] = ["--target", "Survived"]
    if case == "missing-file":
        cur = str(tmp_path / "nope.csv")
    elif case == "unknown-column":
        extra += ["--features", "Age,Cabin"]
    elif case == "non-numeric":
        bad = tmp_path / "bad.csv"
        bad.write_text(files["same"].read_text().replace(",22.0,", ",old,", 1))
        cur = str(bad)
    elif case == "empty":
        empty = tmp_path / "empty.csv"
        empty.write_text(files["same"].read_text().splitlines()[0] + "\n")
        cur = str(empty)
    elif case == "target-missing":
        extra = []
        cur = str(files["same"])
        no_target = tmp_path / "cur.csv"
        import pandas as pd

        pd.read_csv(cur).drop(columns=["Survived"]).to_csv(no_target, index=False)
        cur = str(no_target)
    elif case == "bad-setting":
        monkeypatch.setenv("DRIFT_THRESHOLD", "-1")
    elif case == "bad-rule":
        extra += ["--rule", "median"]
    elif case == "unknown-option":
        extra += ["--bogus"]
    elif case == "bad-number":
        extra += ["--bins", "many"]
    code, out, err = run(["drift", "--reference", ref, "--current", cur, *extra], capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert message in lines[0]
    assert "Traceback" not in err + out


def test_console_script_runs_in_a_subprocess(files, tmp_path) -> None:
    exe = Path(sys.executable).with_name("champion")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "champion"]
    env = {k: v for k, v in os.environ.items() if k not in ("DRIFT_THRESHOLD",)}
    proc = subprocess.run(
        [
            *cmd,
            "drift",
            "--reference",
            str(files["ref"]),
            "--current",
            str(files["drift"]),
            "--target",
            "Survived",
            "--fail-on-drift",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 3, proc.stderr
    assert "DRIFT" in proc.stdout


def test_simulate_sample_writes_drifted_rows(tmp_path, capsys) -> None:
    out = tmp_path / "sample.csv"
    code, _, _ = run(
        [
            "simulate",
            "sample",
            "--dataset",
            "diamonds",
            "--rows",
            "300",
            "--drift-cols",
            "carat",
            "--shift-sd",
            "1",
            "--out",
            str(out),
        ],
        capsys,
    )
    import pandas as pd

    assert code == 0 and len(pd.read_csv(out)) == 300
    code, _, err = run(["simulate", "sample", "--dataset", "iris", "--out", str(out)], capsys)
    assert code == 2 and "unknown dataset 'iris'" in err


def test_ab_simulate_reports_rates_with_their_monte_carlo_error(capsys) -> None:
    argv = ["ab", "simulate", "--mode", "random", "--accuracy-b", "0.86", "--rows", "8000"]
    code, out, _ = run([*argv, "--reps", "20", "--seed", "3", "--json"], capsys)
    assert code == 0
    result = json.loads(out)
    assert result["reps"] == 20 and result["promoted"]["share"] == 1.0
    assert result["promoted"]["low"] > 0.8 and result["median_labels"] < 8000
    code, out, _ = run([*argv, "--reps", "20", "--plan", "--power", "0.8", "--json"], capsys)
    plan = json.loads(out)
    assert code == 0 and plan["power"] == 0.8 and 0 < plan["labels"] < 8000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--mode", "off"], "--mode off runs no experiment"),
        (["--split-change", "halfway"], "--split-change must be WHEN:SPLIT"),
        (["--accuracy-b", "0.99", "--recall-b", "0.1"], "impossible with recall"),
        (["--errors", "cauchy", "--task", "regression"], "errors must be normal"),
        (["--task", "ranking"], "--task must be one of"),
    ],
)
def test_ab_simulate_bad_input_exits_2(argv, message, capsys) -> None:
    code, _, err = run(["ab", "simulate", *argv], capsys)
    assert code == 2 and message in err and err.count("\n") == 1


def test_ab_evaluate_rows_decides_on_a_users_file(tmp_path, capsys) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 6000
    y = rng.integers(0, 2, n)
    stamps = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(n), unit="s")
    rows = pd.DataFrame(
        {
            "variant": np.where(rng.random(n) < 0.5, "B", "A"),
            "user_id": [f"u{i % 900}" for i in range(n)],
            "prediction_a": np.where(rng.random(n) < 0.75, y, 1 - y),
            "prediction_b": np.where(rng.random(n) < 0.85, y, 1 - y),
            "label": y,
            "created_at": stamps,
            "labelled_at": stamps,
        }
    )
    path = tmp_path / "rows.parquet"
    rows.to_parquet(path)
    code, out, _ = run(
        ["ab", "evaluate", "--rows", str(path), "--mode", "random", "--json"], capsys
    )
    decision = json.loads(out)
    assert code == 0 and decision["action"] == "promote" and decision["interval"]["lower"] > 0
    assert {g["name"] for g in decision["guardrails"]} >= {"precision", "recall", "error_rate"}
    code, _, err = run(["ab", "evaluate", "--rows", str(tmp_path / "nope.csv")], capsys)
    assert code == 2 and "nope.csv" in err
    rows.drop(columns="label").to_csv(tmp_path / "bad.csv", index=False)
    code, _, err = run(["ab", "evaluate", "--rows", str(tmp_path / "bad.csv")], capsys)
    assert code == 2 and "no column(s) label" in err


def test_demo_refuses_a_workdir_it_did_not_make_and_deletes_nothing(tmp_path, capsys) -> None:
    home = tmp_path / "someone"
    (home / "artifacts").mkdir(parents=True)
    (home / "artifacts" / "model.pkl").write_bytes(b"theirs")
    (home / "mlflow.db").write_bytes(b"theirs")
    (home / "events.db").write_bytes(b"theirs")
    code, _, err = run(["demo", "--workdir", str(home), "--budget", "1"], capsys)
    assert code == 2
    assert err.strip().count("\n") == 0 and "was not made by champion demo" in err
    assert sorted(p.name for p in home.rglob("*")) == [
        "artifacts",
        "events.db",
        "mlflow.db",
        "model.pkl",
    ]
    assert (home / "mlflow.db").read_bytes() == b"theirs"
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    code, _, err = run(["demo", "--workdir", str(a_file)], capsys)
    assert code == 2 and "is a file" in err and a_file.read_text() == "x"
