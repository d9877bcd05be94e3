"""The preprocessing inside every trained pipeline: raw feature frame in, matrix out.

Numeric features: median imputation, then standardisation (harmless for trees, needed
for linear models). Categorical features: values as strings, missing values as their
own level, one-hot encoded; categories unseen in training are ignored and rare ones
(beyond the 30 most frequent) are grouped, so serving never fails on a new value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from champion.datasets import Schema
from champion.types import MISSING

MAX_CATEGORIES = 30


def as_strings(frame: pd.DataFrame) -> np.ndarray:
    """Categorical columns as an object array of strings, missing values as MISSING.

    ``None``, ``NaN`` and ``pd.NA`` all count as missing (a JSON ``null`` must not
    become the string "None").
    """
    values = frame.astype(object).to_numpy()
    missing = pd.isna(values)
    out = values.astype(str).astype(object)
    out[missing] = MISSING
    return out


def build_preprocessor(schema: Schema) -> ColumnTransformer:
    """The ColumnTransformer for ``schema``'s features (unfitted)."""
    transformers = []
    if schema.numeric:
        numeric = Pipeline(
            [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
        )
        transformers.append(("numeric", numeric, list(schema.numeric)))
    if schema.categorical:
        categorical = Pipeline(
            [
                ("strings", FunctionTransformer(as_strings, feature_names_out="one-to-one")),
                (
                    "onehot",
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist",
                        max_categories=MAX_CATEGORIES,
                        sparse_output=False,
                        dtype=np.float64,
                    ),
                ),
            ]
        )
        transformers.append(("categorical", categorical, list(schema.categorical)))
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
