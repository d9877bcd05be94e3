"""Benchmark: two parts of the serving path against what they replaced, in one run.

    python benchmarks/serving_parts.py

1. Tree ensembles walked by champion's compiled loop (``serving/forest.py``) vs their own
   library's predict, at 1, 8, 16, 48 and 128 rows: HistGradientBoosting against
   scikit-learn's ``predict_proba`` (one thread), LightGBM against ``Booster.predict``.
2. Group commits of 8 prediction rows on a 50,000-row SQLite log (WAL, synchronous=FULL)
   with time-ordered UUIDv7 request ids vs random UUIDv4: WAL pages and time per commit.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from champion.datasets import load_dataset
from champion.predictionlog import EventStore, sqlite_url, to_json
from champion.predictionlog.ids import new_request_id
from champion.serving.forest import from_hist_gradient_boosting, from_lightgbm
from champion.training.preprocessing import build_preprocessor


def per_call_ms(call: Callable[[], Any], repeat: int) -> float:
    for _ in range(20):  # first calls pay one-off set-up (caches, lazy imports)
        call()
    start = time.perf_counter()
    for _ in range(repeat):
        call()
    return (time.perf_counter() - start) / repeat * 1e3


def trees(table: Table) -> None:
    import lightgbm

    data = load_dataset("titanic")
    features = list(data.schema.features)
    pre = build_preprocessor(data.schema).fit(data.frame[features])
    x = np.asarray(pre.transform(data.frame[features]), dtype=np.float64)
    y = data.frame[data.schema.target]
    hgb = HistGradientBoostingClassifier(
        max_iter=250, max_leaf_nodes=63, early_stopping=False, random_state=0
    ).fit(x, y)
    booster = lightgbm.train(
        {"objective": "binary", "num_leaves": 63, "verbose": -1, "num_threads": 1},
        lightgbm.Dataset(x, y),
        num_boost_round=250,
    )
    cases = (
        (f"HGB, {len(hgb._predictors)} trees", from_hist_gradient_boosting(hgb),
         lambda rows: hgb.predict_proba(rows)[:, 1]),
        (f"LightGBM, {booster.num_trees()} trees", from_lightgbm(booster),
         lambda rows: booster.predict(rows, num_threads=1)),
    )  # fmt: skip
    with threadpool_limits(1):
        for name, forest, theirs_call in cases:
            for n in (1, 8, 16, 48, 128):
                rows = x[:n]
                assert np.allclose(forest.predict(rows), theirs_call(rows), rtol=0, atol=1e-12)
                ours = per_call_ms(lambda rows=rows, f=forest: f.predict(rows), 300)
                theirs = per_call_ms(lambda rows=rows, c=theirs_call: c(rows), 300)
                table.add_row(
                    name, f"{n} rows", f"{ours:.3f} ms", f"{theirs:.3f} ms",
                    f"{theirs / ours:.2f}",
                )  # fmt: skip


def commits(table: Table) -> None:
    features = to_json({"Pclass": 3, "Age": 22.0, "Sex": "male", "Embarked": "S"})

    def rows(n: int, make_id: Callable[[], str]) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        return [
            {
                "request_id": make_id(),
                "created_at": now,
                "experiment_id": "v1-v2",
                "user_id": "u1",
                "variant": "A",
                "model_name": "m",
                "model_version": "1",
                "features": features,
                "prediction": "0",
                "prediction_num": 0.0,
                "probability": 0.1,
                "latency_ms": 1.0,
                "phase": 0,
                **{  # both models scored each request, as the API logs them
                    column: value
                    for arm, version in (("a", "1"), ("b", "2"))
                    for column, value in (
                        (f"version_{arm}", version),
                        (f"prediction_{arm}", "0"),
                        (f"prediction_{arm}_num", 0.0),
                        (f"probability_{arm}", 0.1),
                        (f"latency_{arm}_ms", 0.05),
                        (f"failed_{arm}", 0),
                    )
                },
            }
            for _ in range(n)
        ]

    result = {}
    for label, make_id in (("UUIDv7", new_request_id), ("UUIDv4", lambda: str(uuid.uuid4()))):
        path = Path(tempfile.mkdtemp(prefix="champion-ids-")) / "events.db"
        store = EventStore(sqlite_url(path))
        store.migrate()
        for _ in range(100):
            store.insert_predictions(rows(500, make_id))  # a 50,000-row log
        store.insert_predictions(rows(1, make_id))  # the writer's connection exists
        raw = store._local.raw
        raw.execute("PRAGMA wal_autocheckpoint=0")
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        batches = [rows(8, make_id) for _ in range(1000)]
        start = time.perf_counter()
        for batch in batches:
            store.insert_predictions(batch)
        ms = time.perf_counter() - start  # seconds for 1,000 commits = ms per commit
        pages = os.path.getsize(f"{path}-wal") / (
            raw.execute("PRAGMA page_size").fetchone()[0] + 24
        )
        result[label] = (pages / 1000, ms)
        store.dispose()
    (p7, t7), (p4, t4) = result["UUIDv7"], result["UUIDv4"]
    name = "8-row commit, 50,000-row log"
    table.add_row(name, "WAL pages", f"{p7:.1f}", f"{p4:.1f}", f"{p4 / p7:.2f}")
    table.add_row(name, "time", f"{t7:.3f} ms", f"{t4:.3f} ms", f"{t4 / t7:.2f}")


def main() -> None:
    table = Table(title="Serving parts: champion vs what it replaced (same run)")
    for col in ("part", "case", "champion", "baseline", "baseline / champion"):
        table.add_column(col, justify="left" if col in ("part", "case") else "right")
    table.caption = (
        "baselines: sklearn predict_proba (1 thread), LightGBM Booster.predict (1 thread); "
        "random UUIDv4 request ids"
    )
    trees(table)
    commits(table)
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
