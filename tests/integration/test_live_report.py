"""The live A/B report from running counts equals the whole-experiment computation.

A log grows in steps — rows committed late inside the in-flux window, labels arriving
long after their rows, other experiments' and other models' rows beside — and the report
is read between the steps from its kept counts; each time it must equal the figures
computed from every row and label that existed at that moment (pandas over the tables).
Rows written behind the kept counts (a backfill) and rows removed (an archive) restart
the counts; two callers keeping counts at once keep one copy.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import delete, insert, select

from champion.predictionlog import EventStore, live_report
from champion.predictionlog.schema import ab_report_state, feedback, predictions

from servers import pg_cluster, postgres_available

START = datetime(2026, 5, 1, tzinfo=UTC)
MODEL = "m"


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    if not postgres_available():
        pytest.skip("apt-get install postgresql")
    with pg_cluster(("events",)) as pg:
        yield pg.url("events")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> Iterator[EventStore]:
    url = (
        f"sqlite:///{tmp_path / 'events.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres")
    )
    s = EventStore(url, model_name=MODEL)
    s.migrate()
    with s.engine.begin() as conn:  # a module-scoped cluster: start each test empty
        for table in (ab_report_state, feedback, predictions):
            conn.execute(delete(table))
    yield s
    s.dispose()


def _rows(rng: np.random.Generator, n: int, start: float, span: float, *, experiment="exp",
          model=MODEL, regression=False) -> tuple[list[dict], list[dict]]:  # fmt: skip
    rows, labels = [], []
    for i in range(n):
        created = START + timedelta(seconds=start + span * i / n + float(rng.random()))
        variant = "B" if rng.random() < 0.3 else "A"
        y = float(rng.normal(10, 3)) if regression else float(rng.integers(2))
        pred = y + float(rng.normal(0, 1)) if regression else (
            y if rng.random() < (0.8 if variant == "B" else 0.7) else 1.0 - y
        )  # fmt: skip
        text = f"{pred:.6f}" if regression else str(int(pred))
        request_id = str(uuid.uuid4())
        version = {"A": "1", "B": "2" if rng.random() < 0.9 else "3"}[variant]
        rows.append(
            {
                "request_id": request_id, "created_at": created, "experiment_id": experiment,
                "user_id": f"u{rng.integers(50)}", "variant": variant, "model_name": model,
                "model_version": version, "features": "{}", "prediction": text,
                "prediction_num": float(text), "probability": None,
                "latency_ms": float(rng.gamma(2.0, 3.0)), "phase": 1,
            }
        )  # fmt: skip
        for arm in "ab":
            rows[-1] |= {
                f"version_{arm}": None, f"prediction_{arm}": None,
                f"prediction_{arm}_num": None, f"probability_{arm}": None,
                f"latency_{arm}_ms": None, f"failed_{arm}": None,
            }  # fmt: skip
        if rng.random() < 0.6:
            label = f"{y:.6f}" if regression else str(int(y))
            labels.append(
                {
                    "request_id": request_id, "label": label,
                    "label_num": float(label) if rng.random() > 0.05 else None,
                    "received_at": created + timedelta(seconds=float(rng.exponential(900))),
                    "source": "feedback", "predicted_at": created,
                }
            )  # fmt: skip
    return rows, labels


def _write(store: EventStore, rows: list[dict], labels: list[dict]) -> None:
    store.insert_predictions(rows)
    if labels:
        with store.engine.begin() as conn:
            conn.execute(insert(feedback), labels)


def _expected(store: EventStore, now: float, experiment: str = "exp") -> dict[str, dict]:
    """The report as of ``now`` from every row and label then in the tables."""
    with store.engine.connect() as conn:
        p = pd.DataFrame(conn.execute(select(predictions)).mappings().all())
        f = pd.DataFrame(conn.execute(select(feedback)).mappings().all())
    p["created"] = pd.to_datetime(p["created_at"], utc=True).map(lambda t: t.timestamp())
    p = p[(p.experiment_id == experiment) & (p.model_name == MODEL) & (p.created <= now)]
    f["received"] = pd.to_datetime(f["received_at"], utc=True).map(lambda t: t.timestamp())
    joined = p.merge(f[f.received <= now], on="request_id")
    out = {}
    for variant, rows in p.groupby("variant"):
        labelled = joined[joined.variant == variant]
        errors = (labelled.prediction_num - labelled.label_num).abs().dropna()
        out[variant] = {
            "predictions": len(rows),
            "labelled": len(labelled),
            "accuracy": (labelled.prediction == labelled.label).mean() if len(labelled) else None,
            "mae": errors.mean() if len(errors) else None,
            "latency": rows.latency_ms.mean(),
            "versions": sorted(set(rows.model_version)),
        }
    return out


def _report(store: EventStore, now: float) -> dict[str, dict]:
    with store.engine.begin() as conn:
        current, kept, previous = live_report.tally(conn, MODEL, "exp", now=now)
        if kept is not None:
            live_report.keep(conn, MODEL, "exp", kept, previous)
    out = {}
    for variant, c in current.variants.items():
        out[variant] = {
            "predictions": c.served,
            "labelled": c.labelled,
            "accuracy": c.right / c.labelled if c.labelled else None,
            "mae": c.abs_error / c.abs_errors if c.abs_errors else None,
            "latency": c.latency / c.served,
            "versions": sorted(c.versions),
        }
    return out


def _same(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for variant, figures in want.items():
        for key, value in figures.items():
            have = got[variant][key]
            if isinstance(value, float | np.floating) and value is not None:
                assert have == pytest.approx(float(value), rel=1e-9, abs=1e-12), (variant, key)
            else:
                assert have == value, (variant, key)


def _at(seconds: float) -> float:
    return (START + timedelta(seconds=seconds)).timestamp()


@pytest.mark.parametrize("regression", [False, True], ids=["classifier", "regressor"])
def test_the_report_from_kept_counts_equals_the_whole_experiment(store, regression) -> None:
    rng = np.random.default_rng(7 if regression else 8)
    other_exp, _ = _rows(rng, 200, 0, 3000, experiment="old", regression=regression)
    other_model, _ = _rows(rng, 200, 0, 3000, model="other", regression=regression)
    _write(store, other_exp + other_model, [])
    clock = 0.0
    for step in range(6):
        rows, labels = _rows(rng, 400, clock, 600, regression=regression)
        # the step's last rows commit after the call below (in flight at it)
        late = [r for r in rows if r["created_at"] > START + timedelta(seconds=clock + 570)]
        held = {r["request_id"] for r in late}
        _write(
            store,
            [r for r in rows if r not in late],
            [x for x in labels if x["request_id"] not in held],
        )
        clock += 600
        _same(_report(store, _at(clock)), _expected(store, _at(clock)))
        _write(store, late, [x for x in labels if x["request_id"] in held])
        if step == 3:  # a call with nothing new: the same figures, nothing re-added
            _same(_report(store, _at(clock)), _expected(store, _at(clock)))
    with store.engine.connect() as conn:
        upto = conn.execute(select(ab_report_state.c.upto)).scalar_one()
    assert upto == pytest.approx(_at(clock) - live_report.REPORT_LAG_S)
    # long after: every label in, from the kept counts
    _same(_report(store, _at(clock + 86_400)), _expected(store, _at(clock + 86_400)))


def test_rows_written_behind_or_removed_restart_the_counts(store) -> None:
    rng = np.random.default_rng(3)
    rows, labels = _rows(rng, 600, 0, 3600)
    _write(store, rows, labels)
    _same(_report(store, _at(4000)), _expected(store, _at(4000)))
    backfill, old_labels = _rows(rng, 150, 100, 1800)  # long past the kept counts
    _write(store, backfill, old_labels)
    _same(_report(store, _at(4100)), _expected(store, _at(4100)))
    gone = [r["request_id"] for r in rows[:200]]  # an archive took the first rows
    store.delete_predictions(gone)
    _same(_report(store, _at(4200)), _expected(store, _at(4200)))


def test_two_callers_keep_one_copy(store) -> None:
    rng = np.random.default_rng(5)
    rows, labels = _rows(rng, 300, 0, 1800)
    _write(store, rows, labels)
    with store.engine.begin() as conn:
        first = live_report.tally(conn, MODEL, "exp", now=_at(2000))
        second = live_report.tally(conn, MODEL, "exp", now=_at(2100))
    with store.engine.begin() as conn:
        assert live_report.keep(conn, MODEL, "exp", first[1], first[2])
        assert not live_report.keep(conn, MODEL, "exp", second[1], second[2])  # already kept
    with store.engine.connect() as conn:
        kept = conn.execute(select(ab_report_state)).mappings().all()
    assert len(kept) == 1 and kept[0]["upto"] == pytest.approx(_at(2000) - 60)
    _same(_report(store, _at(2100)), _expected(store, _at(2100)))


def test_the_store_reads_the_live_report_from_its_counts(store) -> None:
    rng = np.random.default_rng(11)
    now = datetime.now(UTC)
    rows, labels = _rows(rng, 300, (now - START).total_seconds() - 7200, 7200)
    _write(store, rows, [x for x in labels if x["received_at"] <= now])
    stats = {s.variant: s for s in store.variant_stats("exp")}
    want = _expected(store, now.timestamp() + 1)
    assert stats.keys() == want.keys()
    for variant, s in stats.items():
        assert s.predictions == want[variant]["predictions"]
        assert s.labelled == want[variant]["labelled"]
        assert s.accuracy == pytest.approx(want[variant]["accuracy"], rel=1e-9)
        assert s.mean_latency_ms == pytest.approx(want[variant]["latency"], rel=1e-9)
        assert list(s.model_versions) == want[variant]["versions"]
    with store.engine.connect() as conn:
        assert conn.execute(select(ab_report_state.c.served)).scalar_one() > 0
