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
import json
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
WORKER = HERE / "_drift_worker.py"
EVIDENTLY_VENV = HERE / ".venv-evidently"
EVIDENTLY_SPEC = ["evidently==0.7.23", "pandas<3"]


def evidently_python(console: Console) -> Path:
    python = EVIDENTLY_VENV / "bin" / "python"
    check = [str(python), "-c", "import evidently; assert evidently.__version__ == '0.7.23'"]
    if python.exists() and subprocess.run(check, capture_output=True, check=False).returncode == 0:
        return python
    console.print(f"installing {' '.join(EVIDENTLY_SPEC)} into {EVIDENTLY_VENV} ...")
    venv.create(EVIDENTLY_VENV, with_pip=True, clear=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *EVIDENTLY_SPEC], check=True)
    return python


def measure(python: Path, tool: str, rows: int, drift: bool, out: Path) -> dict[str, float]:
    proc = subprocess.run(
        [str(python), str(WORKER), tool, str(rows), "1" if drift else "0", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{tool} at {rows} rows failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    console = Console(width=170)
    ev_python = evidently_python(console)

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
                ch = measure(Path(sys.executable), "champion", rows, drift, out)
                ev = measure(ev_python, "evidently", rows, drift, out)
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
