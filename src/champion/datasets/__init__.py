"""Bundled datasets, table loading and schema inference."""

from champion.datasets.loader import (
    BUNDLED,
    Dataset,
    Schema,
    infer_schema,
    infer_task,
    load_data,
    load_dataset,
    read_table,
)

__all__ = [
    "BUNDLED",
    "Dataset",
    "Schema",
    "infer_schema",
    "infer_task",
    "load_data",
    "load_dataset",
    "read_table",
]
