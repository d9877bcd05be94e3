"""The vocabulary of champion: every closed set is a ``StrEnum``, defined here once.

A ``StrEnum`` member *is* its string (``Alias.CHAMPION == "champion"``), so values read
back from MLflow tags, the prediction log or JSON compare equal to the members, and
members written out need no conversion. Convert a string from outside once, at the
boundary, with the enum's constructor (``ABMode("shadow")``); a ``ValueError`` there
names the bad value.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from champion.errors import InvalidInputError

E = TypeVar("E", bound=StrEnum)


def parse(kind: type[E], value: object, name: str) -> E:
    """``kind(value)``, or an InvalidInputError naming ``name`` and the allowed values."""
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise InvalidInputError(f"{name} must be one of {allowed}, got {value!r}") from None


class Alias(StrEnum):
    """Registry aliases: the model that serves, and the one under test."""

    CHAMPION = "champion"
    CHALLENGER = "challenger"


class Variant(StrEnum):
    """Arms of an experiment as logged: A is always the champion, B the challenger."""

    A = "A"
    B = "B"


class LogWriter(StrEnum):
    """Where the API's group commits run."""

    PROCESS = "process"  # a child process: the commit never waits for the event loop's GIL
    THREAD = "thread"  # a thread of the API process (no extra process, slower under load)


class ABMode(StrEnum):
    """How traffic is split between champion and challenger."""

    HASH = "hash"  # by a hash of the user id: a user stays in one arm
    RANDOM = "random"  # each request on its own
    SHADOW = "shadow"  # the champion answers everything; the challenger scores it too
    OFF = "off"  # the champion answers everything; no experiment

    @classmethod
    def experiments(cls) -> tuple[ABMode, ...]:
        """The modes an experiment can run in (every mode but ``off``)."""
        return (cls.HASH, cls.RANDOM, cls.SHADOW)


class Task(StrEnum):
    """What a model predicts."""

    CLASSIFICATION = "classification"
    REGRESSION = "regression"


class Action(StrEnum):
    """The decision of one A/B evaluation."""

    PROMOTE = "promote"  # B is better and no guardrail is breached
    CONTINUE = "continue"  # not enough evidence yet
    REJECT = "reject"  # B is worse, or the horizon passed without a promotion
    INVALID = "invalid"  # the assignment is broken (sample-ratio mismatch)

    @property
    def concludes(self) -> bool:
        """True for the decisions that end an experiment and move an alias."""
        return self in (Action.PROMOTE, Action.REJECT)


class Analysis(StrEnum):
    """How an evaluation compares the two models."""

    PAIRED = "paired"  # both models on every labelled row (labels cannot depend on the answer)
    TRIGGERED = "triggered split"  # each arm's answers, on the rows where the models disagree


class RegistryAction(StrEnum):
    """Alias moves recorded in the registry history."""

    REGISTER = "register"
    PROMOTE = "promote"
    REJECT = "reject"
    ROLLBACK = "rollback"
    CLEAR = "clear"  # the challenger alias removed because its version became champion
    ADOPT = "adopt"  # an existing version (not trained by champion) put under an alias


class DriftRule(StrEnum):
    """How per-feature verdicts become the dataset verdict."""

    ANY = "any"  # some feature drifted
    MEAN_PSI = "mean_psi"  # the mean PSI over features is above ``drift_threshold``
    SHARE = "share"  # at least ``share_threshold`` of the features drifted


class DriftUnit(StrEnum):
    """What one observation of the drift window is."""

    USER = "user"  # a user's latest row (rows without a user each count once)
    ROW = "row"  # every row (right only when rows are independent)


class Correction(StrEnum):
    """Multiple-testing correction of the per-feature tests."""

    BONFERRONI = "bonferroni"
    NONE = "none"


#: The level a missing categorical value is counted and encoded under, everywhere.
MISSING = "(missing)"


@dataclass(frozen=True)
class TestResult:
    """A test statistic and its p-value."""

    __test__ = False  # not a pytest test class, whatever its name

    statistic: float
    p_value: float
