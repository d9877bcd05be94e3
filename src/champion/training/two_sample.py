"""The classifier two-sample test behind the joint drift check
(:mod:`champion.drift.joint`): can a model tell reference rows from current rows?"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from champion.drift.joint import JointTest
from champion.errors import InvalidInputError

#: rows per side the classifier sees at most (a larger window is subsampled)
MAX_ROWS = 5_000
#: shuffles per feature when measuring what the classifier relies on
SHUFFLES = 3


def _encode(frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> np.ndarray:
    columns = [pd.to_numeric(frame[c], errors="coerce").to_numpy(np.float64) for c in numeric]
    for c in categorical:  # one code per level, shared by both samples; missing stays NaN
        codes = frame[c].astype("category").cat.codes.to_numpy(np.float64)
        columns.append(np.where(codes < 0, np.nan, codes))
    return np.column_stack(columns) if columns else np.empty((len(frame), 0))


def _importances(
    model: HistGradientBoostingClassifier, x: np.ndarray, y: np.ndarray, names: list[str],
    base: float, rng: np.random.Generator,
) -> list[tuple[str, float]]:  # fmt: skip
    losses = []
    for j, name in enumerate(names):
        drops = []
        for _ in range(SHUFFLES):
            shuffled = x.copy()
            shuffled[:, j] = rng.permutation(shuffled[:, j])
            drops.append(base - roc_auc_score(y, model.predict_proba(shuffled)[:, 1]))
        losses.append((name, float(np.mean(drops))))
    return sorted(losses, key=lambda item: -item[1])


def classifier_two_sample(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str] = (),
    *,
    seed: int = 0,
) -> JointTest:
    """Two cross-fitted folds: a gradient-boosted classifier learns reference (0) vs
    current (1) on one half of each sample and is scored by AUC on the other half."""
    if len(reference) < 4 or len(current) < 4:
        raise InvalidInputError("the classifier test needs at least 4 rows on each side")
    rng = np.random.default_rng(seed)
    names = [*numeric, *categorical]
    both = pd.concat([reference[names], current[names]], ignore_index=True)
    x_all = _encode(both, numeric, categorical)
    sides = []
    for offset, size in ((0, len(reference)), (len(reference), len(current))):
        rows = offset + rng.permutation(size)[:MAX_ROWS]
        sides.append(np.array_split(rows, 2))
    folds, importances = [], None
    for held in (0, 1):
        train = np.concatenate([sides[0][1 - held], sides[1][1 - held]])
        test = np.concatenate([sides[0][held], sides[1][held]])
        y_train = np.r_[np.zeros(len(sides[0][1 - held])), np.ones(len(sides[1][1 - held]))]
        y_test = np.r_[np.zeros(len(sides[0][held])), np.ones(len(sides[1][held]))]
        model = HistGradientBoostingClassifier(
            max_iter=100, learning_rate=0.1, max_leaf_nodes=15, early_stopping=False,
            categorical_features=[len(numeric) + i for i in range(len(categorical))] or None,
            random_state=seed + held,
        )  # fmt: skip
        model.fit(x_all[train], y_train)
        auc = float(roc_auc_score(y_test, model.predict_proba(x_all[test])[:, 1]))
        folds.append((auc, len(sides[0][held]), len(sides[1][held])))
        if held == 0:
            importances = _importances(model, x_all[test], y_test, names, auc, rng)
    return JointTest(tuple(folds), tuple(importances or ()), len(reference), len(current))
