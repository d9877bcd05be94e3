"""Drift the per-feature tests cannot see: a change in how features go together.

A classifier is trained to tell reference rows from current rows; if nothing changed no
classifier can, and its AUC on rows it was not trained on is 0.5 in expectation. The
classifier itself is fitted elsewhere (:mod:`champion.training.two_sample`, which needs a
learning library); this module judges its result. The AUC on held-out rows is a
two-sample U-statistic with a kernel in [0, 1], so Hoeffding's inequality bounds its
upper tail exactly whatever the data: ``P(AUC - 1/2 >= t) <= exp(-2 k t^2)``, ``k`` the
smaller of the two held-out sample sizes — a p-value valid at the small levels a
scheduled check spends, with no large-sample approximation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from champion.errors import InvalidInputError


def auc_p_value(auc: float, n_reference: int, n_current: int) -> float:
    """Hoeffding's bound on ``P(AUC >= auc)`` when the two samples do not differ."""
    if n_reference < 1 or n_current < 1:
        raise InvalidInputError("the AUC needs held-out rows on both sides")
    excess = auc - 0.5
    if excess <= 0:
        return 1.0
    return float(min(1.0, np.exp(-2.0 * min(n_reference, n_current) * excess**2)))


@dataclass(frozen=True)
class JointTest:
    """A classifier two-sample test: held-out AUC folds and what the classifier used."""

    aucs: tuple[tuple[float, int, int], ...]  # per fold: AUC, held-out reference, current
    importances: tuple[tuple[str, float], ...]  # feature, AUC lost when it is shuffled
    n_reference: int
    n_current: int

    @property
    def auc(self) -> float:
        return float(np.mean([a for a, _, _ in self.aucs]))

    @property
    def p_value(self) -> float:
        """The smallest fold's bound times the folds (Bonferroni over the folds)."""
        bounds = [auc_p_value(a, n0, n1) for a, n0, n1 in self.aucs]
        return float(min(1.0, len(bounds) * min(bounds)))


@dataclass(frozen=True)
class JointDrift:
    """The verdict of the joint check inside a drift check."""

    auc: float
    p_value: float
    drifted: bool
    reason: str
    importances: tuple[tuple[str, float], ...]
    n_reference: int
    n_current: int


def judge_joint(test: JointTest, alpha: float, auc_floor: float) -> JointDrift:
    """Drifted when the bound rejects at ``alpha`` and the AUC reaches ``auc_floor``."""
    p, auc = test.p_value, test.auc
    used = ", ".join(f"{name} ({loss:.3f})" for name, loss in test.importances[:3]) or "none"
    if p >= alpha:
        reason = f"classifier AUC {auc:.3f}: p={p:.2g} >= {alpha:.3g}"
        drifted = False
    elif auc < auc_floor:
        reason = f"classifier AUC {auc:.3f} < floor {auc_floor:g}: negligible (p={p:.2g})"
        drifted = False
    else:
        reason = f"classifier AUC {auc:.3f}: p={p:.2g} < {alpha:.3g}; it relies on {used}"
        drifted = True
    return JointDrift(auc, p, drifted, reason, test.importances, test.n_reference, test.n_current)
