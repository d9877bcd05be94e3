"""Which variant serves a request (pure).

* ``hash``: the same ``user_id`` always gets the same variant within an experiment: the
  variant is read off a SHA-256 of ``experiment_id:user_id``. A request **without**
  ``user_id`` is hashed on its own (random) request id instead: it is routed at random
  with the configured share, and there is nothing to be sticky to.
* ``random``: each request independently (hash of its random request id).
* ``shadow``: the champion answers every request; the challenger also scores it and both
  predictions are logged.
* ``off``, or no challenger loaded: everything goes to the champion.

Variant ``A`` is the champion, ``B`` the challenger.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from champion.types import ABMode, Variant


@dataclass(frozen=True, slots=True)
class Route:
    variant: Variant
    shadow: bool  # the challenger scores the row too (shadow mode)


def unit_hash(key: str) -> float:
    """A uniform number in [0, 1) derived from ``key`` (stable across processes)."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


_A, _B, _SHADOW = Route(Variant.A, False), Route(Variant.B, False), Route(Variant.A, True)


def route(
    *,
    mode: ABMode,
    split_b: float,
    experiment_id: str,
    user_id: str | None,
    request_id: str,
    has_challenger: bool,
) -> Route:
    if not has_challenger or mode == ABMode.OFF:
        return _A
    if mode == ABMode.SHADOW:
        return _SHADOW
    if mode == ABMode.HASH and user_id is not None:
        u = unit_hash(f"{experiment_id}:{user_id}")
    else:
        u = unit_hash(request_id)
    return _B if u < split_b else _A
