"""From logged rows (as the prediction log returns them) to the arms of an evaluation:
only the two versions under test count, labels pair up in shadow mode, failures become
requests, and the sequence over time ends where the final interval is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from champion.abtest import build_evidence, interval_path, paired, unpaired
from champion.errors import InvalidInputError
from champion.types import Task

T0 = datetime(2026, 1, 1, tzinfo=UTC)
COLUMNS = (
    "created_at",
    "variant",
    "model_version",
    "prediction",
    "prediction_num",
    "probability",
    "shadow_version",
    "shadow_prediction",
    "shadow_prediction_num",
    "shadow_probability",
    "latency_ms",
    "label",
    "label_num",
    "received_at",
)


def _rows(entries: list[tuple]) -> dict[str, list]:
    """(variant, version, prediction, label or None, shadow version, shadow prediction)."""
    cols: dict[str, list] = {k: [] for k in COLUMNS}
    for i, (variant, version, pred, label, s_version, s_pred) in enumerate(entries):
        cols["created_at"].append(T0 + timedelta(seconds=i))
        cols["variant"].append(variant)
        cols["model_version"].append(version)
        cols["prediction"].append(str(pred))
        cols["prediction_num"].append(float(pred))
        cols["probability"].append(0.9 if pred == 1 else 0.1)
        cols["shadow_version"].append(s_version)
        cols["shadow_prediction"].append(None if s_pred is None else str(s_pred))
        cols["shadow_prediction_num"].append(None if s_pred is None else float(s_pred))
        cols["shadow_probability"].append(None if s_pred is None else 0.5)
        cols["latency_ms"].append(1.0 + i)
        cols["label"].append(None if label is None else str(label))
        cols["label_num"].append(None if label is None else float(label))
        cols["received_at"].append(None if label is None else T0 + timedelta(seconds=100 + i))
    return cols


def test_split_arms_keep_only_the_versions_under_test() -> None:
    rows = _rows(
        [
            ("A", "1", 1, 1, None, None),
            ("A", "1", 0, 1, None, None),
            ("A", "1", 1, None, None, None),  # answered, not labelled yet
            ("B", "2", 1, 1, None, None),
            ("B", "2", 0, 0, None, None),
            ("A", "0", 1, 0, None, None),  # an older champion before a hot swap
            ("B", "3", 1, 1, None, None),  # a replaced challenger
        ]
    )
    ev = build_evidence(
        rows, {("B", "2"): 3}, champion="1", challenger="2", task=Task.CLASSIFICATION, shadow=False
    )
    assert ev.ignored == 2 and ev.paired_rows is None
    assert ev.a.y_true.tolist() == [1.0, 1.0] and ev.a.y_pred.tolist() == [1.0, 0.0]
    assert (ev.a.requests, ev.a.errors) == (3, 0)
    assert ev.a.latency_ms.tolist() == [1.0, 2.0, 3.0]
    assert (ev.b.requests, ev.b.errors) == (2 + 3, 3)  # answered + failed
    assert ev.b.y_score.tolist() == [0.9, 0.1]


def test_shadow_rows_pair_up_on_the_champions_rows() -> None:
    rows = _rows(
        [
            ("A", "1", 1, 1, "2", 1),
            ("A", "1", 1, 0, "2", 0),
            ("A", "1", 0, 0, "2", 1),
            ("A", "1", 0, None, "2", 0),  # no label yet: not a pair
            ("A", "1", 1, 1, "9", 0),  # scored by another challenger: not a pair
        ]
    )
    ev = build_evidence(
        rows, {}, champion="1", challenger="2", task=Task.CLASSIFICATION, shadow=True
    )
    y, pa, pb = ev.paired_rows
    assert y.tolist() == [1.0, 0.0, 0.0]
    assert pa.tolist() == [1.0, 1.0, 0.0] and pb.tolist() == [1.0, 0.0, 1.0]
    assert ev.b.requests == 4 and ev.a.requests == 5


def test_regression_needs_numeric_labels() -> None:
    rows = _rows([("A", "1", 1, 1, None, None), ("B", "2", 1, 1, None, None)])
    rows["label_num"][0] = None  # a label that is not a number
    rows["label"][0] = '"banana"'
    with pytest.raises(InvalidInputError, match="numeric labels"):
        build_evidence(rows, {}, champion="1", challenger="2", task=Task.REGRESSION, shadow=False)


def test_the_sequence_over_time_ends_at_the_final_interval() -> None:
    rng = np.random.default_rng(3)
    entries = []
    for _ in range(400):
        variant = "B" if rng.random() < 0.5 else "A"
        y = int(rng.integers(0, 2))
        right = rng.random() < (0.85 if variant == "B" else 0.75)
        entries.append(
            (variant, "2" if variant == "B" else "1", y if right else 1 - y, y, None, None)
        )
    ev = build_evidence(
        _rows(entries), {}, champion="1", challenger="2", task=Task.CLASSIFICATION, shadow=False
    )
    looks = interval_path(ev, task=Task.CLASSIFICATION, alpha=0.05, n_star=1000, points=20)
    final = unpaired(
        (ev.a.y_true == ev.a.y_pred).astype(float),
        (ev.b.y_true == ev.b.y_pred).astype(float),
        alpha=0.05,
        n_star=1000,
    )
    assert looks[-1].labelled == 400
    assert (looks[-1].lower, looks[-1].upper) == pytest.approx((final.lower, final.upper))
    assert [look.labelled for look in looks] == sorted({look.labelled for look in looks})


def test_the_paired_sequence_over_time_ends_at_the_paired_interval() -> None:
    entries = [("A", "1", i % 2, (i // 2) % 2, "2", (i // 3) % 2) for i in range(60)]
    ev = build_evidence(
        _rows(entries), {}, champion="1", challenger="2", task=Task.CLASSIFICATION, shadow=True
    )
    y, pa, pb = ev.paired_rows
    d = (pb == y).astype(float) - (pa == y).astype(float)
    looks = interval_path(ev, task=Task.CLASSIFICATION, alpha=0.05, n_star=500)
    final = paired(d, alpha=0.05, n_star=500)
    assert looks[-1].labelled == 60
    assert (looks[-1].estimate, looks[-1].lower) == pytest.approx((final.estimate, final.lower))
