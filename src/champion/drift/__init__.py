"""Drift detection: reference profile, per-feature statistics, dataset verdict.

Pure: numpy, scipy and pandas only (no MLflow, database, web or Airflow imports).
"""

from champion.drift.detect import (
    DriftConfig,
    DriftResult,
    FeatureDrift,
    check_drift,
    check_summary,
    detect_drift,
)
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
    "NumericProfile",
    "NumericWindow",
    "ReferenceProfile",
    "WindowSummary",
    "build_profile",
    "check_drift",
    "check_summary",
    "chi_square_test",
    "detect_drift",
    "ks_grid",
    "ks_test",
    "psi",
    "summarize_frame",
]
