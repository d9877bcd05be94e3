"""AutoML training: FLAML search, leaderboard, selection rule, refit pipeline."""

from champion.training.automl import TrainResult, train
from champion.training.config import TrainConfig
from champion.training.selection import Candidate, Selection, select

__all__ = ["Candidate", "Selection", "TrainConfig", "TrainResult", "select", "train"]
