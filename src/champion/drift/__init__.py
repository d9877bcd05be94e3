"""Drift detection: reference profile, per-feature statistics, dataset verdict.

Pure: numpy, scipy and pandas only (no MLflow, database, web, Airflow or learning
library imports: the joint check's classifier is fitted by ``champion.training``).
"""

from champion.drift.detect import (
    DriftConfig,
    DriftResult,
    FeatureDrift,
    check_drift,
    check_summary,
    detect_drift,
)
from champion.drift.joint import JointDrift, JointTest, auc_p_value
from champion.drift.lifetime import spending
from champion.drift.profile import (
    CategoricalProfile,
    NumericProfile,
    ReferenceProfile,
    build_profile,
)
from champion.drift.stats import chi_square_test, ks_test, psi
from champion.drift.window import (
    CategoricalWindow,
    NumericWindow,
    WindowSummary,
    ks_grid,
    summarize_frame,
)

__all__ = [
    "CategoricalProfile",
    "CategoricalWindow",
    "DriftConfig",
    "DriftResult",
    "FeatureDrift",
    "JointDrift",
    "JointTest",
    "NumericProfile",
    "NumericWindow",
    "ReferenceProfile",
    "WindowSummary",
    "auc_p_value",
    "build_profile",
    "check_drift",
    "check_summary",
    "chi_square_test",
    "detect_drift",
    "ks_grid",
    "ks_test",
    "psi",
    "spending",
    "summarize_frame",
]
