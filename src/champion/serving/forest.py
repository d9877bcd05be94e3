"""Tree ensembles walked by compiled code, bit for bit as their own library walks them.

A served batch is a few rows. scikit-learn predicts a HistGradientBoosting model one tree
at a time, each through a small OpenMP call whose set-up costs the same whatever the
batch (milliseconds for a few hundred trees), and LightGBM's Python predict builds a new
predictor object around every call. Here the trees of either are read once into flat
arrays (:class:`Forest`) and a batch is walked by one compiled loop (numba, no GIL held):
tree by tree, row by row, from the root to a leaf, the leaf values added in the library's
own order — so the raw score is the same double, not a close one.

What a split does, per node: ``x <= threshold`` goes left; a missing value goes the way
the node says. The three missing-value rules are LightGBM's (``missing_type``): *none*
(NaN is compared as 0.0), *zero* (0 and NaN take the node's default way) and *nan* (NaN
takes it; HistGradientBoosting's rule).

Only what this reproduces is built — binary classification or a single-output regression,
numeric splits, no linear leaves or averaged (random-forest) output — and, like the rest
of the compiled path, used only after it matched the estimator on the verification rows;
anything else is left to the estimator. Without numba installed nothing is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
from scipy.special import expit

try:  # an optional speed-up: without it the estimators' own predict serves
    import numba
except ImportError:  # pragma: no cover - numba is a dependency; a platform may lack it
    numba = None

#: The batching threshold for scoring on the event loop (see ``batching``); larger batches
#: are still walked here, on the scoring thread.
MAX_STACKED_ROWS = 48
#: LightGBM's ``kZeroThreshold`` (1e-35f): within it a value is zero for the *zero* rule.
ZERO = float(np.float32(1e-35))


class Missing(IntEnum):
    """How a node routes a missing value (LightGBM's ``missing_type``)."""

    NONE = 0  # NaN is compared as 0.0
    ZERO = 1  # 0 and NaN go the node's default way
    NAN = 2  # NaN goes the node's default way


@dataclass(frozen=True)
class Forest:
    """Every tree's nodes in flat arrays; node ``i`` of the whole forest at index ``i``."""

    roots: np.ndarray  # int32: each tree's root, in the order the trees are summed
    feature: np.ndarray  # int32: the column a node splits on, -1 at a leaf
    threshold: np.ndarray  # float64: ``x <= threshold`` goes left
    left: np.ndarray  # int32
    right: np.ndarray  # int32
    nan_left: np.ndarray  # uint8: 1 where NaN goes left (each rule folded into this)
    zero_missing: np.ndarray  # uint8: 1 where a zero goes the NaN way (the *zero* rule)
    value: np.ndarray  # float64: a leaf's value
    baseline: float  # the sum starts here
    inverse_link: Callable[[np.ndarray], np.ndarray]

    def raw(self, x: np.ndarray) -> np.ndarray:
        """The raw (link-scale) score of each row of ``x`` (float64, C order)."""
        out = np.empty(x.shape[0], dtype=np.float64)
        _walk(
            np.ascontiguousarray(x, dtype=np.float64), self.roots, self.feature,
            self.threshold, self.left, self.right, self.nan_left, self.zero_missing,
            self.value, self.baseline, out,
        )  # fmt: skip
        return out

    def predict(self, x: np.ndarray) -> np.ndarray:
        """P(class 1) for a binary classifier, the prediction for a regressor."""
        return np.asarray(self.inverse_link(self.raw(x)), dtype=np.float64)


def _walk_rows(x, roots, feature, threshold, left, right, nan_left, zero_missing, value,
               baseline, out):  # fmt: skip
    n = x.shape[0]
    for i in range(n):
        out[i] = baseline
    for t in range(roots.shape[0]):  # tree by tree: each row's sum in the library's order
        for i in range(n):
            node = roots[t]
            f = feature[node]
            while f >= 0:
                v = x[i, f]
                if zero_missing[node] and -ZERO <= v <= ZERO:  # a zero, the NaN way
                    node = left[node] if nan_left[node] else right[node]
                elif v <= threshold[node]:
                    node = left[node]
                elif v > threshold[node]:
                    node = right[node]
                else:  # NaN
                    node = left[node] if nan_left[node] else right[node]
                f = feature[node]
            out[i] += value[node]


def _compiled(function: Callable[..., None]) -> Callable[..., None] | None:
    if numba is None:
        return None
    try:  # machine code kept beside the module or in the user's cache between processes
        return numba.njit(nogil=True, cache=True)(function)
    except RuntimeError:  # nowhere writable to keep it: compiled afresh in each process
        return numba.njit(nogil=True)(function)


_walk = _compiled(_walk_rows)


Node = tuple[int, float, int, int, int, int, float]


def _arrays(
    nodes: list[Node], roots: list[int], baseline: float, inverse_link: Callable[..., Any]
) -> Forest:
    """A :class:`Forest` from rows of (feature, threshold, left, right, missing,
    default_left, value), children as indices into ``nodes``."""
    table = np.array(nodes, dtype=np.float64).reshape(-1, 7)
    rule, default_left = table[:, 4], table[:, 5].astype(bool)
    # under the *none* rule NaN is compared as 0.0; under the others it goes the default way
    nan_left = np.where(rule == Missing.NONE, table[:, 1] >= 0.0, default_left)
    return Forest(
        roots=np.asarray(roots, dtype=np.int32),
        feature=table[:, 0].astype(np.int32),
        threshold=np.ascontiguousarray(table[:, 1]),
        left=table[:, 2].astype(np.int32),
        right=table[:, 3].astype(np.int32),
        nan_left=nan_left.astype(np.uint8),
        zero_missing=(rule == Missing.ZERO).astype(np.uint8),
        value=np.ascontiguousarray(table[:, 6]),
        baseline=baseline,
        inverse_link=inverse_link,
    )


def from_hist_gradient_boosting(estimator: Any) -> Forest:
    """The trees of a fitted ``HistGradientBoosting*`` (TypeError where not covered)."""
    predictors = estimator._predictors  # one list of trees per iteration
    if any(len(trees) != 1 for trees in predictors):
        raise TypeError("multiclass HistGradientBoosting: one tree per class")
    if getattr(estimator, "_preprocessor", None) is not None:
        raise TypeError("HistGradientBoosting with native categorical preprocessing")
    nodes: list[Node] = []
    roots = []
    for (tree,) in predictors:
        table = tree.nodes
        if table["is_categorical"].any():
            raise TypeError("categorical splits")
        base = len(nodes)
        roots.append(base)
        for node in table:
            leaf = bool(node["is_leaf"])
            nodes.append((
                -1 if leaf else int(node["feature_idx"]), float(node["num_threshold"]),
                base + int(node["left"]), base + int(node["right"]), Missing.NAN,
                int(node["missing_go_to_left"]), float(node["value"]),
            ))  # fmt: skip
    baseline = float(np.asarray(estimator._baseline_prediction).ravel()[0])
    return _arrays(nodes, roots, baseline, _hist_gradient_boosting_link(estimator._loss.link))


def _hist_gradient_boosting_link(link: Any) -> Callable[[np.ndarray], np.ndarray]:
    """The link's inverse; for the logit (binary classification) scipy's ``expit``
    itself, which scikit-learn's calls on numpy input after an array-API namespace
    lookup that cost more than the function on a few rows."""
    if type(link).__name__ == "LogitLink" and type(link).__module__.startswith("sklearn."):
        return expit
    return link.inverse


_LIGHTGBM_MISSING = {"None": Missing.NONE, "Zero": Missing.ZERO, "NaN": Missing.NAN}


def _lightgbm_link(objective: str) -> Callable[[np.ndarray], np.ndarray]:
    name, *params = objective.split()
    if name in ("binary", "cross_entropy"):
        scale = 1.0
        for p in params:
            if p.startswith("sigmoid:"):
                scale = float(p.split(":", 1)[1])
        return lambda raw: 1.0 / (1.0 + np.exp(-scale * raw))
    if name in ("regression", "regression_l1", "huber", "fair", "quantile", "mape"):
        return lambda raw: raw
    if name in ("poisson", "gamma", "tweedie"):
        return np.exp
    raise TypeError(f"LightGBM objective {name!r}")


def _lightgbm_tree(structure: dict[str, Any], nodes: list[Any]) -> int:
    """Append one dumped (sub)tree to ``nodes``; its index."""
    here = len(nodes)
    if "leaf_value" in structure or "split_feature" not in structure:
        nodes.append((-1, 0.0, here, here, 0, 0, float(structure["leaf_value"])))
        return here
    if structure.get("decision_type") != "<=":
        raise TypeError("categorical split")
    nodes.append(None)
    left = _lightgbm_tree(structure["left_child"], nodes)
    right = _lightgbm_tree(structure["right_child"], nodes)
    nodes[here] = (
        int(structure["split_feature"]), float(structure["threshold"]), left, right,
        _LIGHTGBM_MISSING[structure["missing_type"]], int(bool(structure["default_left"])), 0.0,
    )  # fmt: skip
    return here


def from_lightgbm(booster: Any) -> Forest:
    """The trees of a LightGBM booster, as its ``predict`` would use them."""
    dump = booster.dump_model()
    if dump.get("num_tree_per_iteration", 1) != 1 or dump.get("average_output"):
        raise TypeError("multiclass or random-forest LightGBM")
    if dump.get("linear_tree") or any(t.get("num_cat", 0) for t in dump["tree_info"]):
        raise TypeError("linear or categorical LightGBM trees")
    link = _lightgbm_link(str(dump.get("objective", "")))
    nodes: list[Any] = []
    roots = [_lightgbm_tree(t["tree_structure"], nodes) for t in dump["tree_info"]]
    if not roots:
        raise TypeError("a booster without trees")
    return _arrays(nodes, roots, 0.0, link)


def _forest_call(forest: Forest) -> Callable[[np.ndarray], np.ndarray]:
    def call(x: np.ndarray) -> np.ndarray:
        return forest.predict(x)

    return call


def hist_gradient_boosting_call(estimator: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """A compiled call for a fitted HistGradientBoosting model, or None when it does not
    qualify (see the module docstring)."""
    if _walk is None:
        return None
    if hasattr(estimator, "predict_proba") and len(estimator.classes_) != 2:
        return None
    try:
        return _forest_call(from_hist_gradient_boosting(estimator))
    except (AttributeError, TypeError, KeyError, ValueError, IndexError):
        return None


def lightgbm_call(booster: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """A compiled call for a LightGBM booster (binary or regression), or None."""
    if _walk is None:
        return None
    try:
        return _forest_call(from_lightgbm(booster))
    except (AttributeError, TypeError, KeyError, ValueError, IndexError):
        return None
