"""Drift detection: reference profile, per-feature statistics, dataset verdict.

Pure: numpy, scipy and pandas only (no MLflow, database, web or Airflow imports).
"""

from champion.drift.detect import (
    DriftConfig,
    DriftResult,
    FeatureDrift,
    check_drift,
    detect_drift,
)
from champion.drift.profile import (
    CategoricalProfile,
    NumericProfile,
    ReferenceProfile,
    build_profile,
)
from champion.drift.stats import chi_square_test, ks_test, psi

__all__ = [
    "CategoricalProfile",
    "DriftConfig",
    "DriftResult",
    "FeatureDrift",
    "NumericProfile",
    "ReferenceProfile",
    "build_profile",
    "check_drift",
    "chi_square_test",
    "detect_drift",
    "ks_test",
    "psi",
]
