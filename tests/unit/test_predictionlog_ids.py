"""Request ids: RFC 9562 version-7 UUIDs, time-ordered and unguessable."""

from __future__ import annotations

import time
import uuid

from champion.predictionlog.ids import new_request_id


def test_request_ids_are_version_7_uuids_carrying_their_millisecond() -> None:
    now_ns = 1_795_000_000_123_456_789
    rid = new_request_id(now_ns)
    parsed = uuid.UUID(rid)
    assert str(parsed) == rid and len(rid) == 36
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert parsed.int >> 80 == 1_795_000_000_123  # the 48-bit Unix time in ms
    before = time.time_ns() // 1_000_000
    assert before <= uuid.UUID(new_request_id()).int >> 80 <= time.time_ns() // 1_000_000


def test_later_ids_sort_later_and_none_repeat() -> None:
    start = 1_795_000_000_000_000_000
    ids = [new_request_id(start + k * 1_000_000) for k in range(2000)]  # one per ms
    assert ids == sorted(ids)
    same_ms = {new_request_id(start) for _ in range(20_000)}
    assert len(same_ms) == 20_000  # 74 random bits per id
    # the random bits are spread: every hex digit of the random tail shows up
    tails = [uuid.UUID(rid).int & ((1 << 62) - 1) for rid in same_ms]
    assert len({t % 16 for t in tails}) == 16
    assert abs(sum(t / 2**62 for t in tails) / len(tails) - 0.5) < 0.01
