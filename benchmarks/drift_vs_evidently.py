"""Benchmark: champion's drift check vs Evidently 0.7's DataDriftPreset, in one run.

    python benchmarks/drift_vs_evidently.py [--sizes 10000,100000,1000000]

Same synthetic data for both (5 numeric + 3 categorical columns, generated from the same
seed by the same code), with and without drift; the full check including the HTML report.
Evidently needs pandas < 3, so it is installed into its own virtual environment
(benchmarks/.venv-evidently) the first time. Every measurement runs in a fresh process:
wall time of the check, the process's peak RSS during the check (imports and data
included) and the check's own share of it (peak minus the RSS just before the check).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from _runner import ensure_venv, run_worker

HERE = Path(__file__).resolve().parent
WORKER = HERE / "_drift_worker.py"
EVIDENTLY_VENV = HERE / ".venv-evidently"
EVIDENTLY_SPEC = ["evidently==0.7.23", "pandas<3"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    console = Console(width=170)
    ev_python = ensure_venv(
        EVIDENTLY_VENV,
        EVIDENTLY_SPEC,
        "import evidently; assert evidently.__version__ == '0.7.23'",
        console,
    )
    if ev_python is None:
        raise SystemExit("Evidently 0.7.23 did not install; nothing to compare with")

    table = Table(
        title="Drift check incl. HTML report: champion vs Evidently 0.7.23 DataDriftPreset"
    )
    for col in (
        "rows",
        "drift",
        "champion s",
        "Evidently s",
        "speed-up",
        "peak RSS MB ch / ev",
        "ratio",
        "check's own MB ch / ev",
        "own ratio",
        "drifted cols ch / ev",
    ):
        table.add_column(col, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sizes:
            for drift in (False, True):
                out = Path(tmp) / f"{rows}-{int(drift)}"
                console.print(f"[dim]{rows:,} rows, drift={drift} ...[/]")
                flag = int(drift)
                ch = run_worker(Path(sys.executable), WORKER, "champion", rows, flag, out)
                ev = run_worker(ev_python, WORKER, "evidently", rows, flag, out)
                ch_own = max(ch["peak_mb"] - ch["baseline_mb"], 1.0)
                ev_own = max(ev["peak_mb"] - ev["baseline_mb"], 1.0)
                table.add_row(
                    f"{rows:,}",
                    "yes" if drift else "no",
                    f"{ch['seconds']:.3f}",
                    f"{ev['seconds']:.2f}",
                    f"{ev['seconds'] / ch['seconds']:.1f}x",
                    f"{ch['peak_mb']:.0f} / {ev['peak_mb']:.0f}",
                    f"{ch['peak_mb'] / ev['peak_mb']:.2f}",
                    f"{ch_own:.0f} / {ev_own:.0f}",
                    f"{ch_own / ev_own:.2f}",
                    f"{ch['drifted_columns']} / {ev['drifted_columns']:.0f}",
                )
    console.print(table)
    console.print(
        "speed-up = Evidently time / champion time. peak RSS = the process's peak during the "
        "check (imports and data included); check's own = that peak minus the RSS just "
        "before the check. ratios = champion / Evidently (lower is better). "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores."
    )


if __name__ == "__main__":
    main()
