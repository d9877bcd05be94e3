"""Request ids of the prediction log: time-ordered UUIDs (version 7, RFC 9562).

The first 48 bits are the Unix time in milliseconds, the remaining 74 free bits come from
``os.urandom`` (an id cannot be guessed from another, which matters because a request id
is all ``POST /feedback`` needs). Ids made later sort later, so the primary-key index of
the predictions table grows at its right edge: a group commit touches a page or two of it
instead of one random page per row, on SQLite and PostgreSQL alike
(``benchmarks/serving_parts.py`` measures it against random UUIDv4 keys).
"""

from __future__ import annotations

import os
import time

_VERSION = 0x7 << 76
_VARIANT = 0b10 << 62
_RAND_A = (1 << 12) - 1
_RAND_B = (1 << 62) - 1


def new_request_id(now_ns: int | None = None) -> str:
    """A fresh UUIDv7 string; ``now_ns`` (nanoseconds since the epoch) for tests."""
    ms = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (
        (ms & ((1 << 48) - 1)) << 80 | _VERSION | ((rand >> 62) & _RAND_A) << 64 | _VARIANT
    ) | (rand & _RAND_B)
    h = f"{value:032x}"  # the canonical form, without building a uuid.UUID
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
