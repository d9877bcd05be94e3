"""HistGradientBoosting trees evaluated all at once with numpy.

scikit-learn predicts a HistGradientBoosting model one tree at a time, each through a
small OpenMP call whose set-up costs the same whatever the batch, so a model of a few
hundred trees costs milliseconds for a single row — most of a request's budget. Here
every tree's nodes are stacked into flat arrays and a batch walks all trees together,
one level per step (four gathers, an add and a comparison over all (row, tree) pairs; a
pair at its leaf stays there), then the leaves are added in sklearn's order, so the
result is bit-identical.

Used by the compiled path only for what it reproduces exactly — binary classification or
regression, numeric splits, no missing values in the input (the compiled preprocessing
imputes them; a batch with NaN goes to the estimator itself) — and, like the rest of the
compiled path, only after it matched the pipeline on the verification rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

#: Larger batches go to the estimator itself (see ``call``).
MAX_STACKED_ROWS = 48


class StackedTrees:
    """The trees of a fitted ``HistGradientBoosting*`` as flat arrays."""

    def __init__(self, estimator: Any) -> None:
        predictors = estimator._predictors  # one list of trees per iteration
        if any(len(trees) != 1 for trees in predictors):
            raise TypeError("multiclass HistGradientBoosting: one tree per class")
        if getattr(estimator, "_preprocessor", None) is not None:
            raise TypeError("HistGradientBoosting with native categorical preprocessing")
        nodes = [trees[0].nodes for trees in predictors]
        if any(n["is_categorical"].any() for n in nodes):
            raise TypeError("categorical splits")
        sizes = np.array([len(n) for n in nodes])
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        flat = np.concatenate(nodes)
        shift = np.repeat(offsets, sizes)
        leaf = flat["is_leaf"].astype(bool)
        here = np.arange(len(flat))
        left = np.where(leaf, here, flat["left"].astype(np.int64) + shift)
        right = np.where(leaf, here, flat["right"].astype(np.int64) + shift)
        # Node i is stored twice, at 2i (go left) and 2i + 1 (go right), so one step is
        # ``node = child[node + (x > threshold)]``; a leaf's children are itself.
        self.child = np.column_stack([2 * left, 2 * right]).ravel().astype(np.intp)
        self.feature = np.repeat(np.where(leaf, 0, flat["feature_idx"]), 2).astype(np.intp)
        self.threshold = np.repeat(np.where(leaf, 0.0, flat["num_threshold"]), 2)
        self.value = np.repeat(flat["value"].astype(np.float64), 2)
        self.roots = (2 * offsets).astype(np.intp)
        self.depth = int(flat["depth"][leaf].max())  # steps from a root to the deepest leaf
        self.baseline = float(np.asarray(estimator._baseline_prediction).ravel()[0])
        self.inverse_link = estimator._loss.link.inverse

    def raw(self, x: np.ndarray) -> np.ndarray:
        """The raw (link-scale) prediction of each row, summed as sklearn sums it."""
        n, width = x.shape
        trees = self.roots.size
        node = np.tile(self.roots, n)  # (row, tree) pairs, row-major
        at = np.repeat(np.arange(n) * width, trees)  # where each pair's row starts in x
        flat = x.ravel()
        for _ in range(self.depth):  # one level per step; pairs at a leaf stay there
            node = self.child[node + (flat[at + self.feature[node]] > self.threshold[node])]
        terms = np.empty((n, trees + 1))
        terms[:, 0] = self.baseline
        terms[:, 1:] = self.value[node].reshape(n, trees)
        return np.cumsum(terms, axis=1)[:, -1]  # baseline, then tree by tree

    def predict(self, x: np.ndarray) -> np.ndarray:
        """P(class 1) for a binary classifier, the prediction for a regressor."""
        return np.asarray(self.inverse_link(self.raw(x)), dtype=np.float64)


def hist_gradient_boosting_call(estimator: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """A direct call for a fitted HistGradientBoosting model, or None when it does not
    qualify (see the module docstring)."""
    try:
        stacked = StackedTrees(estimator)
    except (AttributeError, TypeError, KeyError, ValueError, IndexError):
        return None
    classifier = hasattr(estimator, "predict_proba")
    if classifier and len(estimator.classes_) != 2:
        return None

    def call(x: np.ndarray) -> np.ndarray:
        # missing-value routing is the estimator's business; and on large batches its
        # per-tree calls amortise and overtake the stacked walk (where:
        # `python benchmarks/serving_parts.py`)
        if x.shape[0] > MAX_STACKED_ROWS or np.isnan(x).any():
            return estimator.predict_proba(x)[:, 1] if classifier else estimator.predict(x)
        return stacked.predict(x)

    return call
