"""Cross-validation scores of one fold: every leaderboard metric at once."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn import metrics as skm


def classification_scores(
    y_true: np.ndarray, proba: np.ndarray, n_classes: int
) -> dict[str, float]:
    """Accuracy, precision, recall, F1, ROC AUC and log loss of class probabilities.

    Labels are encoded ``0..n_classes-1``; binary metrics are for class 1, multiclass
    ones are macro-averaged. ROC AUC is NaN when the fold holds a single class.
    """
    y_true = np.asarray(y_true).astype(np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim == 1:
        proba = np.column_stack([1.0 - proba, proba])
    pred = proba.argmax(axis=1)
    labels = list(range(n_classes))
    average = "binary" if n_classes == 2 else "macro"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined precision/AUC on degenerate folds
        scores = {
            "accuracy": skm.accuracy_score(y_true, pred),
            "precision": skm.precision_score(
                y_true, pred, labels=labels, average=average, zero_division=0
            ),
            "recall": skm.recall_score(
                y_true, pred, labels=labels, average=average, zero_division=0
            ),
            "f1": skm.f1_score(y_true, pred, labels=labels, average=average, zero_division=0),
            "log_loss": skm.log_loss(y_true, proba, labels=labels),
        }
        try:
            if n_classes == 2:
                scores["roc_auc"] = skm.roc_auc_score(y_true, proba[:, 1])
            else:
                scores["roc_auc"] = skm.roc_auc_score(
                    y_true, proba, multi_class="ovr", average="macro", labels=labels
                )
        except ValueError:
            scores["roc_auc"] = float("nan")
    return {k: float(v) for k, v in scores.items()}


def regression_scores(y_true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """MAE, RMSE and R2."""
    y_true = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    return {
        "mae": float(skm.mean_absolute_error(y_true, pred)),
        "rmse": float(np.sqrt(skm.mean_squared_error(y_true, pred))),
        "r2": float(skm.r2_score(y_true, pred)),
    }
