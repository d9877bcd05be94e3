"""One training measurement in a fresh process (run by train_vs_pycaret.py).

Usage: python _train_worker.py {champion|pycaret} DATASET BUDGET
Prints one JSON line: wall seconds, model, CV recall / precision / F1 / AUC.
"""

from __future__ import annotations

import json
import sys
import time

from _train_data import load


def run_champion(dataset: str, budget: float) -> dict[str, object]:
    from champion.datasets import infer_schema
    from champion.training import TrainConfig, train

    frame, target = load(dataset)
    start = time.perf_counter()
    schema = infer_schema(frame, target=target)
    result = train(frame, schema, TrainConfig(budget=budget, seed=42))
    seconds = time.perf_counter() - start
    cv = result.cv_scores
    model = result.selection.chosen.family
    if result.selection.threshold is not None:
        model += f" @ {result.selection.threshold:.2f}"
    return {
        "seconds": seconds,
        "model": model,
        "recall": cv["recall"],
        "precision": cv["precision"],
        "f1": cv["f1"],
        "auc": cv["roc_auc"],
    }


def run_pycaret(dataset: str) -> dict[str, object]:
    from pycaret.classification import compare_models, pull, setup

    frame, target = load(dataset)
    start = time.perf_counter()
    setup(frame, target=target, session_id=42, n_jobs=1, verbose=False, html=False)
    compare_models(sort="Recall", verbose=False)
    seconds = time.perf_counter() - start
    best = pull().iloc[0]
    return {
        "seconds": seconds,
        "model": str(best["Model"]),
        "recall": float(best["Recall"]),
        "precision": float(best["Prec."]),
        "f1": float(best["F1"]),
        "auc": float(best["AUC"]),
    }


def main() -> None:
    tool, dataset, budget = sys.argv[1], sys.argv[2], float(sys.argv[3])
    result = run_champion(dataset, budget) if tool == "champion" else run_pycaret(dataset)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
