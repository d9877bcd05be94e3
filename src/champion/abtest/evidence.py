"""The rows of an experiment as arrays, and what each row says about the two models (pure).

One row per served request: the arm it was routed to, its randomisation unit, the phase
of the experiment it was served in, both models' predictions (both score every request),
whether either failed, their scoring latencies, and the label with the time it arrived.

A model that failed on a row is replaced there by the other model's prediction — the
answer the user got instead — so a failure never looks like a correct answer, and is
counted by the error-rate guardrail instead.

Time: every quantity of a look at time ``T`` is a prefix of the rows in some order —
served rows by creation time, labelled rows by the time they *entered* the comparison,
which is when their label arrived or, with a label-maturity window ``w``, when the row
became ``w`` old, whichever is later. :class:`Tracker` keeps those prefixes' moments, so a
look at any time, or at a thousand times, costs a binary search.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from champion.abtest.moments import Moments, at, running
from champion.types import Task

#: Scoring latencies above this are counted at this (a stalled call is slow, not infinite).
LATENCY_CAP_MS = 1000.0


@dataclass(frozen=True)
class Evidence:
    """The experiment's rows (arrays of one length; times in seconds)."""

    task: Task
    served_b: np.ndarray  # bool: routed to the challenger
    unit: np.ndarray  # int: randomisation unit (a user in hash mode, else the request)
    phase: np.ndarray  # int: phase of the experiment (a new one at every split change)
    split_b: np.ndarray  # float: the challenger's configured share in the row's phase
    created: np.ndarray  # float: when the request was served
    labelled_at: np.ndarray  # float: when its label arrived (nan: not yet)
    label: np.ndarray  # float: the label (a class code for classification; nan: none)
    pred_a: np.ndarray  # float: the champion's prediction (nan: none)
    pred_b: np.ndarray  # float: the challenger's prediction (nan: none)
    failed_a: np.ndarray  # bool: the champion took the row and failed
    failed_b: np.ndarray
    latency_a: np.ndarray  # float: the champion's scoring time, ms (nan: none)
    latency_b: np.ndarray
    prob_a: np.ndarray  # float: P(positive class) of binary classifiers (nan: none)
    prob_b: np.ndarray
    positive: tuple[float, ...] = ()  # class codes whose precision and recall are guarded

    @property
    def size(self) -> int:
        return int(self.served_b.size)

    @cached_property
    def answer_a(self) -> np.ndarray:
        """The champion's answer, the challenger's where the champion failed."""
        return np.where(np.isnan(self.pred_a), self.pred_b, self.pred_a)

    @cached_property
    def answer_b(self) -> np.ndarray:
        return np.where(np.isnan(self.pred_b), self.pred_a, self.pred_b)

    @cached_property
    def served(self) -> np.ndarray:
        """What the user got."""
        return np.where(self.served_b, self.answer_b, self.answer_a)

    @cached_property
    def labelled(self) -> np.ndarray:
        return ~np.isnan(self.labelled_at) & ~np.isnan(self.label)

    def score(self, answer: np.ndarray) -> np.ndarray:
        """Per-row score of ``answer``: 1/0 right (classification), minus the absolute
        error (regression); 0 where there is no label, or no answer (both models failed:
        the failure guardrail counts that row, and the two scores are alike)."""
        if self.task == Task.CLASSIFICATION:
            out = (answer == self.label).astype(np.float64)
        else:
            out = -np.abs(self.label - answer)
        return np.where(self.labelled & ~np.isnan(answer), out, 0.0)

    @cached_property
    def score_a(self) -> np.ndarray:
        return self.score(self.answer_a)

    @cached_property
    def score_b(self) -> np.ndarray:
        return self.score(self.answer_b)

    @cached_property
    def triggered(self) -> np.ndarray:
        """Rows where the two answers differ: elsewhere the arm cannot matter (nor where
        both models failed: neither gave an answer)."""
        none = np.isnan(self.answer_a) & np.isnan(self.answer_b)
        return (self.answer_a != self.answer_b) & ~none

    def entered(self, maturity: float) -> np.ndarray:
        """When each labelled row entered the comparison (inf: never)."""
        entry = np.maximum(self.labelled_at, self.created + maturity)
        return np.where(self.labelled, entry, np.inf)

    def latency_difference(self) -> np.ndarray:
        """Challenger minus champion scoring time per row, capped (nan: not both timed)."""
        cap = LATENCY_CAP_MS
        return np.minimum(self.latency_b, cap) - np.minimum(self.latency_a, cap)


class Tracker:
    """Moments of ``scores`` over the rows whose ``key`` time is at most ``T``, for any
    ``T``; rows with a key of inf never count."""

    def __init__(self, key: np.ndarray, scores: np.ndarray, units: np.ndarray) -> None:
        keep = np.isfinite(key)
        order = np.argsort(key[keep], kind="stable")
        self.keys = key[keep][order]
        self.table = running(scores[keep][order], units[keep][order])

    def at(self, now: float | np.ndarray) -> Moments:
        """The moments at ``now`` — one time, or an array of times (then each field is an
        array, one entry per time)."""
        return at(self.table, np.searchsorted(self.keys, now, side="right"))
