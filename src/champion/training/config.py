"""The parameters of a training run (validated on construction)."""

from __future__ import annotations

from dataclasses import dataclass

from champion.errors import InvalidInputError
from champion.types import Task

#: FLAML's names of the estimator families searched.
CLASSIFIERS = ("lgbm", "xgboost", "histgb", "rf", "extra_tree", "lrl2")
REGRESSORS = ("lgbm", "xgboost", "histgb", "rf", "extra_tree")


@dataclass(frozen=True)
class TrainConfig:
    """Parameters of a training run; each threshold says its direction."""

    task: Task | None = None  # default: inferred from the target
    metric: str | None = None  # default: recall (classification), mae (regression)
    budget: float = 30.0  # seconds of search
    seed: int = 42
    folds: int = 5
    estimators: tuple[str, ...] | None = None
    precision_tolerance: float = 0.05  # recall selection: precision given up at most
    min_precision: float = 0.0
    min_rows: int = 50
    trainer: str | None = None  # package.module:function instead of the FLAML search

    def __post_init__(self) -> None:
        problems = []
        if self.trainer is not None and not _is_trainer_path(self.trainer):
            problems.append(f"trainer must be package.module:function, got {self.trainer!r}")
        if self.task is not None and self.task not in tuple(Task):
            problems.append(f"task must be classification or regression, got {self.task!r}")
        if self.budget <= 0:
            problems.append(f"budget must be positive, got {self.budget}")
        if not 2 <= self.folds <= 20:
            problems.append(f"folds must be between 2 and 20, got {self.folds}")
        if self.min_rows < 10:
            problems.append(f"min_rows must be at least 10, got {self.min_rows}")
        if not 0 <= self.precision_tolerance <= 1 or not 0 <= self.min_precision <= 1:
            problems.append("precision_tolerance and min_precision must be in [0, 1]")
        allowed = {*CLASSIFIERS, *REGRESSORS}
        unknown = sorted(set(self.estimators or ()) - allowed)
        if unknown:
            problems.append(f"unknown estimator(s) {unknown}; choose from {sorted(allowed)}")
        if problems:
            raise InvalidInputError("invalid training configuration: " + "; ".join(problems))


def _is_trainer_path(path: str) -> bool:
    module, _, function = path.partition(":")
    names = [*module.split("."), *function.split(".")]
    return bool(module and function) and all(n.isidentifier() for n in names)
