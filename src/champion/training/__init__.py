"""AutoML training: FLAML search, leaderboard, selection rule, refit pipeline, MLflow logging."""

from champion.training.automl import TrainConfig, TrainResult, train
from champion.training.selection import Candidate, Selection, select

__all__ = ["Candidate", "Selection", "TrainConfig", "TrainResult", "select", "train"]
