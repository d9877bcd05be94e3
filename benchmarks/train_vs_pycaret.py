"""Benchmark: champion's AutoML vs PyCaret 3.3.2 compare_models(sort='Recall'), in one run.

    python benchmarks/train_vs_pycaret.py [--budgets 5,10,30] [--datasets titanic,diamonds-binary]

Trains on Titanic and Diamonds-binary (price above its median) and prints wall time and
CV recall / precision / F1 / AUC. PyCaret pins an old scikit-learn, so it is installed
into its own virtual environment (benchmarks/.venv-pycaret) the first time; if that
install fails, champion's rows are printed alone. Every measurement runs in a fresh
process. PyCaret runs with n_jobs=1, its faster setting on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from _runner import ensure_venv, run_worker

HERE = Path(__file__).resolve().parent
WORKER = HERE / "_train_worker.py"
PYCARET_VENV = HERE / ".venv-pycaret"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="5,10,30")
    parser.add_argument("--datasets", default="titanic,diamonds-binary")
    args = parser.parse_args()
    console = Console(width=170)
    # scikit-plot (a PyCaret dependency) imports six without declaring it
    pc_python = ensure_venv(
        PYCARET_VENV,
        ["pycaret==3.3.2", "six"],
        "import six, pycaret; assert pycaret.__version__ == '3.3.2'",
        console,
    )
    if pc_python is None:
        console.print("[yellow]PyCaret 3.3.2 did not install; champion runs alone[/]")
    table = Table(title="AutoML: champion vs PyCaret 3.3.2 compare_models(sort='Recall')")
    for col in (
        "dataset",
        "tool",
        "budget s",
        "wall s",
        "model",
        "CV recall",
        "CV precision",
        "CV F1",
        "CV AUC",
        "time vs PyCaret",
        "recall >= PyCaret",
    ):
        table.add_column(col, justify="left" if col in ("dataset", "tool", "model") else "right")
    for dataset in args.datasets.split(","):
        console.print(f"[dim]{dataset} ...[/]")
        base = run_worker(pc_python, WORKER, "pycaret", dataset, 0) if pc_python else None
        if base:
            table.add_row(
                dataset,
                "PyCaret",
                "—",
                f"{base['seconds']:.1f}",
                str(base["model"]),
                f"{base['recall']:.4f}",
                f"{base['precision']:.4f}",
                f"{base['f1']:.4f}",
                f"{base['auc']:.4f}",
                "1.00",
                "",
            )
        for budget in (float(b) for b in args.budgets.split(",")):
            res = run_worker(Path(sys.executable), WORKER, "champion", dataset, budget)
            ratio = f"{res['seconds'] / base['seconds']:.2f}" if base else "—"
            ok = ("yes" if res["recall"] >= base["recall"] else "no") if base else "—"
            table.add_row(
                dataset,
                "champion",
                f"{budget:g}",
                f"{res['seconds']:.1f}",
                str(res["model"]),
                f"{res['recall']:.4f}",
                f"{res['precision']:.4f}",
                f"{res['f1']:.4f}",
                f"{res['auc']:.4f}",
                ratio,
                ok,
            )
    console.print(table)
    console.print(
        "CV = the tool's own cross-validation (champion: 5-fold, recall/precision at the "
        "shipped decision threshold; PyCaret: 10-fold, threshold 0.5). "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores."
    )


if __name__ == "__main__":
    main()
