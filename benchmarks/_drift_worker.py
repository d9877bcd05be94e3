"""One drift measurement in a fresh process (run by drift_vs_evidently.py).

Usage: python _drift_worker.py {champion|evidently} ROWS DRIFT(0|1) OUT_DIR

Imports the tool, generates the synthetic data (numpy + pandas only, so the same code
runs in the Evidently environment), resets the process's peak-RSS mark, then times the
full check including the HTML report, and prints one JSON line: seconds, the peak RSS
during the check and the RSS just before it (imports and data) in MB, and the verdict.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

NUMERIC = ["num_normal", "num_lognormal", "num_uniform", "num_exponential", "num_count"]
CATEGORICAL = ["cat_3", "cat_10", "cat_50"]


def synth(rows: int, seed: int, drift: bool) -> pd.DataFrame:
    """5 numeric + 3 categorical columns; with drift: 2 numerics shifted, 1 reweighted."""
    rng = np.random.default_rng(seed)
    shift = 0.5 if drift else 0.0
    data: dict[str, object] = {
        "num_normal": rng.normal(shift, 1.0, rows),
        "num_lognormal": rng.lognormal(0.0, 0.5, rows) + shift * 0.53,
        "num_uniform": rng.uniform(0.0, 1.0, rows),
        "num_exponential": rng.exponential(2.0, rows),
        "num_count": rng.poisson(3.0, rows).astype(np.float64),
    }
    for name, levels in (("cat_3", 3), ("cat_10", 10), ("cat_50", 50)):
        weights = np.linspace(1.0, 2.0, levels)
        if drift and name == "cat_10":
            weights = weights[::-1] ** 2
        labels = np.array([f"{name}_{i}" for i in range(levels)], dtype=object)
        picked = labels[rng.choice(levels, size=rows, p=weights / weights.sum())]
        # object dtype on both sides (pandas 3 would otherwise store Arrow strings and
        # pandas 2 object references): the same data in the same representation.
        data[name] = pd.Series(picked, dtype=object)
    return pd.DataFrame(data)


def status_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, in MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so the peak is the check's."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def run_champion(ref: pd.DataFrame, cur: pd.DataFrame, out: Path) -> dict[str, object]:
    from champion.drift import build_profile, check_drift
    from champion.reports import write_drift_reports

    profile = build_profile(ref, NUMERIC, CATEGORICAL)
    result = check_drift(profile, cur)
    write_drift_reports(result, html_path=out / "champion.html", json_path=out / "champion.json")
    return {"drift": result.drifted, "drifted_columns": result.n_drifted}


def run_evidently(ref: pd.DataFrame, cur: pd.DataFrame, out: Path) -> dict[str, object]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    snapshot.save_html(str(out / "evidently.html"))
    drifted = None
    for metric in snapshot.dict().get("metrics", []):
        if "DriftedColumnsCount" in str(metric.get("metric_name", "")):
            drifted = metric["value"]["count"]
    share_drift = drifted is not None and drifted / (len(NUMERIC) + len(CATEGORICAL)) >= 0.5
    return {"drift": share_drift, "drifted_columns": drifted}


def main() -> None:
    tool, rows, drift, out = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", Path(sys.argv[4])
    out.mkdir(parents=True, exist_ok=True)
    if tool == "champion":
        import champion.drift  # noqa: F401  (import cost is not part of the check)
    else:
        import evidently.presets  # noqa: F401
    ref = synth(rows, seed=1, drift=False)
    cur = synth(rows, seed=2, drift=drift)
    reset_peak()
    baseline = status_mb("VmRSS")
    start = time.perf_counter()
    verdict = (run_champion if tool == "champion" else run_evidently)(ref, cur, out)
    seconds = time.perf_counter() - start
    peak = status_mb("VmHWM")
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "baseline_mb": baseline, **verdict}))


if __name__ == "__main__":
    main()
