"""The selection rule, on constructed candidates (pure)."""

from __future__ import annotations

import numpy as np
import pytest

from champion.training.selection import Candidate, best_recall_point, select


def _brute(y: np.ndarray, p: np.ndarray, floor: float):
    best = None
    for t in sorted(set(p.tolist()), reverse=True):
        pred = p >= t
        tp = int((pred & (y == 1)).sum())
        prec, rec = tp / pred.sum(), tp / (y == 1).sum()
        if prec >= floor and (best is None or rec > best[1]):
            best = (t, rec, prec)
    return best


@pytest.mark.parametrize("seed", range(5))
def test_best_recall_point_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 400)
    p = np.round(np.clip(0.3 * y + rng.normal(0.35, 0.2, 400), 0, 1), 2)  # ties included
    for floor in (0.5, 0.6, 0.7, 0.8):
        ours, brute = best_recall_point(y, p, floor), _brute(y, p, floor)
        if brute is None:
            assert ours is None
            continue
        assert (ours.threshold, ours.recall, ours.precision) == pytest.approx(brute)
        pred = p >= ours.threshold
        assert ours.accuracy == pytest.approx(np.mean(pred == (y == 1)))


def test_unreachable_floor_gives_none() -> None:
    y, p = np.array([0, 1, 0, 1]), np.array([0.9, 0.1, 0.8, 0.2])
    assert best_recall_point(y, p, 0.9) is None


def _cand(family, loss, precision, recall, oof=None, **extra):
    cv = {"log_loss": loss, "precision": precision, "recall": recall, **extra}
    return Candidate(family=family, config={}, cv=cv, folds=5, oof=oof)


def test_recall_without_a_floor_would_pick_the_degenerate_model() -> None:
    sensible = _cand("gbm", 0.40, 0.82, 0.72)
    everything_positive = _cand("lda", 0.60, 0.40, 0.99)
    chosen = select([sensible, everything_positive], metric="recall", search_loss="log_loss")
    assert chosen.chosen.family == "gbm"  # precision 0.40 < 0.82 - 0.05
    assert chosen.eligible == ("gbm",)
    lenient = select(
        [sensible, everything_positive],
        metric="recall",
        search_loss="log_loss",
        precision_tolerance=0.5,
    )
    assert lenient.chosen.family == "lda"


def test_recall_with_out_of_fold_probabilities_tunes_the_threshold() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    strong = np.clip(0.35 * y + rng.normal(0.33, 0.18, 2000), 0, 1)
    weak = np.clip(0.15 * y + rng.normal(0.42, 0.18, 2000), 0, 1)
    a = _cand("strong", 0.40, 0.80, 0.70, oof=(y, strong))
    b = _cand("weak", 0.60, 0.70, 0.70, oof=(y, weak))
    sel = select([a, b], metric="recall", search_loss="log_loss")
    assert sel.chosen.family == "strong" and sel.anchor.family == "strong"
    point = sel.operating_point
    assert point is not None and point.precision >= 0.75 - 1e-12
    assert point.recall == pytest.approx(_brute(y, strong, 0.75)[1])
    assert sel.scores["recall"] == point.recall and sel.scores["log_loss"] == 0.40
    assert "threshold" in sel.reason


def test_other_metrics_pick_the_best_value_ties_to_lower_loss() -> None:
    a = _cand("a", 0.45, 0.8, 0.7, roc_auc=0.90)
    b = _cand("b", 0.41, 0.8, 0.7, roc_auc=0.90)
    c = _cand("c", 0.50, 0.8, 0.7, roc_auc=0.85)
    assert select([a, b, c], metric="roc_auc", search_loss="log_loss").chosen.family == "b"
    reg = [
        Candidate("x", {}, {"mae": 500.0, "rmse": 900.0}),
        Candidate("y", {}, {"mae": 450.0, "rmse": 950.0}),
    ]
    assert select(reg, metric="mae", search_loss="mae").chosen.family == "y"
    assert select(reg, metric="rmse", search_loss="mae").chosen.family == "x"
