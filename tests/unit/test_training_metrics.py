"""Fold scores against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from champion.training.metrics import classification_scores, regression_scores


def test_binary_scores_by_hand() -> None:
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    p1 = np.array([0.9, 0.6, 0.3, 0.7, 0.2, 0.1, 0.4, 0.2])  # P(class 1)
    s = classification_scores(y, p1, 2)
    # predicted 1 for 0.9, 0.6, 0.7: tp 2, fp 1, fn 1
    assert s["accuracy"] == pytest.approx(6 / 8)
    assert (s["precision"], s["recall"], s["f1"]) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    # ranks: positives above negatives in 12 of 15 pairs
    assert s["roc_auc"] == pytest.approx(12 / 15)
    p = np.where(y == 1, p1, 1 - p1)
    assert s["log_loss"] == pytest.approx(-np.mean(np.log(p)))


def test_multiclass_is_macro_averaged_and_a_single_class_has_no_auc() -> None:
    y = np.array([0, 1, 2, 2])
    proba = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.5, 0.3, 0.2]])
    s = classification_scores(y, proba, 3)
    # predictions 0, 1, 2, 0: recall per class 1, 1, 1/2; precision 1/2, 1, 1
    assert s["recall"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert s["precision"] == pytest.approx((0.5 + 1 + 1) / 3)
    assert math.isnan(classification_scores(np.array([1, 1]), np.array([0.6, 0.9]), 2)["roc_auc"])


def test_regression_scores_by_hand() -> None:
    y, pred = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.5, 2.0, 2.0, 5.0])
    s = regression_scores(y, pred)
    assert s["mae"] == pytest.approx((0.5 + 0 + 1 + 1) / 4)
    assert s["rmse"] == pytest.approx(math.sqrt((0.25 + 0 + 1 + 1) / 4))
    assert s["r2"] == pytest.approx(1 - 2.25 / 5.0)
