"""Filling a prediction log with simulated traffic whose ground truth is known (shared by
the evaluation, monitoring and DAG tests)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np

from champion.predictionlog import EventStore
from champion.predictionlog.store import to_json
from champion.simulation.replay import records


def seed_rows(
    store: EventStore,
    experiment: str,
    *,
    n: int,
    acc_a: float,
    acc_b: float,
    split_b: float = 0.5,
    shadow: bool = False,
    versions: tuple[str, str] = ("1", "2"),
    seed: int = 0,
    label_share: float = 1.0,
    phase: int | None = None,
    failed_b: float = 0.0,
) -> dict[str, np.ndarray]:
    """``n`` predictions of a simulated experiment, labelled with known accuracies.

    Split: each row goes to B with probability ``split_b``. Shadow: every row is
    answered by A. Both models score every row either way (as the API logs them).
    Returns the ground truth it wrote.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    to_b = (rng.random(n) < split_b) if not shadow else np.zeros(n, bool)
    right_a, right_b = rng.random(n) < acc_a, rng.random(n) < acc_b
    pred_a, pred_b = np.where(right_a, y, 1 - y), np.where(right_b, y, 1 - y)
    score_a = np.clip(pred_a * 0.6 + rng.random(n) * 0.4, 0, 1)
    score_b = np.clip(pred_b * 0.6 + rng.random(n) * 0.4, 0, 1)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    fails = rng.random(n) < failed_b  # the challenger failed: the user got A's answer
    rows, labels, ids = [], [], []
    for i in range(n):
        b = bool(to_b[i])
        answered_b = b and not fails[i]
        pred, score = (pred_b[i], score_b[i]) if answered_b else (pred_a[i], score_a[i])
        request_id = str(uuid.uuid4())
        ids.append(request_id)
        rows.append(
            {
                "request_id": request_id,
                "created_at": start + timedelta(seconds=i),
                "experiment_id": experiment,
                "user_id": f"u{i}",
                "variant": "B" if b else "A",
                "model_name": store.model_name,
                "model_version": versions[1] if answered_b else versions[0],
                "features": "{}",
                "prediction": str(int(pred)),
                "prediction_num": float(pred),
                "probability": float(score),
                "latency_ms": 3.0,
                "phase": phase,
                **_model("a", versions[0], pred_a[i], score_a[i]),
                **_model("b", versions[1], pred_b[i], score_b[i], failed=bool(fails[i])),
            }
        )
        if rng.random() < label_share:
            labels.append((request_id, int(y[i])))
    store.insert_predictions(rows)
    store.add_feedback(labels)
    return {
        "y": y,
        "to_b": to_b,
        "pred_a": pred_a,
        "pred_b": pred_b,
        "score_a": score_a,
        "failed_b": fails,
    }


def _model(arm: str, version: str | None, pred, score, *, failed: bool = False) -> dict:
    """One model's columns of a log row (both models score every request)."""
    answered = version is not None and not failed
    return {
        f"version_{arm}": version,
        f"prediction_{arm}": str(int(pred)) if answered else None,
        f"prediction_{arm}_num": float(pred) if answered else None,
        f"probability_{arm}": float(score) if answered else None,
        f"latency_{arm}_ms": 1.0 if answered else None,
        f"failed_{arm}": int(failed),
    }


def log_traffic(
    store: EventStore, frame, schema, *, labelled: bool, accuracy: float = 0.85, seed: int = 0,
    version: str = "1",
) -> int:  # fmt: skip
    """The rows of ``frame`` as the champion ``version`` served them; its answer is the
    true label with probability ``accuracy`` (a binary 0/1 target), its P(positive)
    agreeing with its answer."""
    features = records(frame, schema.features)
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for record, label in zip(features, frame[schema.target].tolist(), strict=True):
        request_id = str(uuid.uuid4())
        answer = int(label) if rng.random() < accuracy else 1 - int(label)
        score = float(np.clip(0.5 + (0.3 if answer else -0.3) + rng.normal(0, 0.1), 0, 1))
        rows.append(
            {
                "request_id": request_id,
                "created_at": datetime.now(UTC),
                "experiment_id": "default",
                "user_id": None,
                "variant": "A",
                "model_name": store.model_name,
                "model_version": version,
                "features": to_json(record),
                "prediction": str(answer),
                "prediction_num": float(answer),
                "probability": score,
                "latency_ms": 2.0,
                "phase": None,
                **_model("a", version, answer, score),
                **_model("b", None, None, None),
            }
        )
        labels.append((request_id, int(label)))
    store.insert_predictions(rows)
    if labelled:
        store.add_feedback(labels)
    return len(rows)


def plain_row(store: EventStore, experiment: str, *, user_id: str) -> dict:
    """One champion-answered prediction row, as the API writes it."""
    return {
        "request_id": str(uuid.uuid4()),
        "created_at": datetime.now(UTC),
        "experiment_id": experiment,
        "user_id": user_id,
        "variant": "A",
        "model_name": store.model_name,
        "model_version": "1",
        "features": "{}",
        "prediction": "1",
        "prediction_num": 1.0,
        "probability": 0.9,
        "latency_ms": 1.0,
        "phase": 0,
        **_model("a", "1", 1, 0.9),
        **_model("b", None, 0, 0.0),
    }


def user_rows(rng: np.random.Generator, model: str, users: int = 200, n: int = 2000) -> list[dict]:
    """``n`` rows from ``users`` users whose one feature ``x`` is their own value plus a
    little noise: a user's rows resemble each other (the repeated-users drift scenario)."""
    base = rng.normal(0, 1, users)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(n):
        user = int(rng.integers(users))
        x = float(base[user] + rng.normal(0, 0.1))
        rows.append({
            "request_id": str(uuid.uuid4()), "created_at": start + timedelta(seconds=i),
            "experiment_id": "e", "user_id": f"u{user}", "variant": "A", "model_name": model,
            "model_version": "1", "features": to_json({"x": x}),
            "prediction": "1", "prediction_num": 1.0, "probability": 0.5, "latency_ms": 1.0,
            "phase": None, **_model("a", "1", 1, 0.5), **_model("b", None, None, None),
        })  # fmt: skip
    return rows
