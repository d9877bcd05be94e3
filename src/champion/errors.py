"""The exception tree of champion.

Every error champion raises on purpose derives from :class:`ChampionError`, so a caller
can catch the whole family at once. Errors caused by the user (a bad file, an unknown
column, an invalid setting) are :class:`InvalidInputError`; the CLI turns them into one
line and exit code 2, the HTTP API into a 422 naming the field.

::

    ChampionError
    ├── InvalidInputError        the caller's input is wrong; fixing it fixes the call
    │   └── ConfigError          a setting (env var, flag) has an invalid value
    ├── NotFoundError            a named thing (dataset, model alias, request id) is absent
    ├── ConflictError            the request contradicts recorded state (a different label)
    └── BackendError             MLflow or the database failed; state was left unchanged
        ├── ModelIntegrityError  a version's files do not match their recorded digest
        └── RowRejectedError     the database refused one row's value (only it failed)

:class:`InvalidInputError` is also a :class:`ValueError` and :class:`NotFoundError` a
:class:`LookupError`, so code that catches the built-in kinds keeps working.
"""

from __future__ import annotations


class ChampionError(Exception):
    """Base class of every error raised by champion."""


class InvalidInputError(ChampionError, ValueError):
    """The input given by the caller is invalid; the message says what and how to fix it."""


class ConfigError(InvalidInputError):
    """A setting has an invalid value (one line per bad value in the message)."""


class NotFoundError(ChampionError, LookupError):
    """A named object (dataset, model version, alias, request id) does not exist."""


class ConflictError(ChampionError):
    """The request contradicts state already recorded (e.g. a second, different label)."""


class BackendError(ChampionError):
    """An external system (MLflow, the database) failed; nothing was half-written."""


class ModelIntegrityError(BackendError):
    """A model version's files do not match the digest recorded when it was registered
    (or it has none and one is required); it was not loaded."""


class RowRejectedError(BackendError):
    """The database refused a value of one row (too long, out of range, not storable);
    the row was not written, and other rows are not affected."""
