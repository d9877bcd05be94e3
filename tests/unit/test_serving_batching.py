"""Micro-batching: concurrent requests share model calls, compiled-path batches are
scored on the event loop, pipeline models and large batches on the scoring thread, and
every request gets exactly its own rows' answers."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from champion.serving.batching import MicroBatcher
from champion.serving.compiled import PipelinePredictor, Scored, build_predictor
from champion.serving.loading import LoadedModel
from champion.serving.validation import FeatureSpec
from champion.simulation.replay import records
from champion.training.preprocessing import build_preprocessor


class ThreadRecorder:
    """A real predictor that notes which thread called it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.compiled = inner.compiled
        self.threads: list[int] = []

    def predict(self, rows: list[dict[str, Any]]) -> Scored:
        self.threads.append(threading.get_ident())
        return self.inner.predict(rows)


def _loaded(name: str, predictor: Any, features: list[str]) -> LoadedModel:
    return LoadedModel(
        name=name,
        version="1",
        run_id=None,
        spec=FeatureSpec(names=tuple(features), types={}),
        predictor=predictor,
        path=name,
        classes=(0, 1),
        loaded_at=datetime.now(UTC),
    )


@pytest.fixture(scope="module")
def titanic_model(titanic) -> tuple[Any, list[str], list[dict[str, Any]]]:
    features = list(titanic.schema.features)
    model = Pipeline(
        [
            ("preprocess", build_preprocessor(titanic.schema)),
            ("model", LogisticRegression(max_iter=500)),
        ]
    ).fit(titanic.frame[features], titanic.frame[titanic.schema.target])
    return model, features, records(titanic.frame, features)


def test_requests_share_calls_and_get_their_own_answers(titanic_model) -> None:
    model, features, rows = titanic_model
    compiled, how = build_predictor(model, features)
    assert how.startswith("compiled numpy path")
    fast = ThreadRecorder(compiled)
    slow = ThreadRecorder(PipelinePredictor(model, features))
    a, b = _loaded("compiled", fast, features), _loaded("pipeline", slow, features)

    async def run() -> tuple[list[Scored], Scored, int, MicroBatcher]:
        batcher = MicroBatcher()
        batcher.start()
        try:
            singles = []
            for wave in range(4):  # 30 concurrent requests at a time (under inline_rows)
                singles += await asyncio.gather(
                    *(
                        batcher.score(a if i % 3 else b, rows[i : i + 1])
                        for i in range(30 * wave, 30 * wave + 30)
                    )
                )
            big = await batcher.score(a, rows[:60])  # over inline_rows: to the thread
        finally:
            await batcher.close()
        return singles, big, threading.get_ident(), batcher

    singles, big, loop_thread, batcher = asyncio.run(run())
    for i, got in enumerate(singles):  # a batched call may differ in the last bit (BLAS)
        want = (compiled if i % 3 else slow.inner).predict(rows[i : i + 1])
        assert got.labels == want.labels, i
        assert got.probability == pytest.approx(want.probability, rel=1e-12), i
    assert big.probability == pytest.approx(compiled.predict(rows[:60]).probability, rel=1e-12)
    assert batcher.rows == 180
    # each wave of 30 is queued before the consumer runs: one batch per wave, one call per
    # model in it; the 60-row batch is a fifth
    assert batcher.batches == 5
    assert (len(fast.threads), len(slow.threads)) == (5, 4)
    assert set(fast.threads[:-1]) == {loop_thread}  # small compiled batches: on the loop
    assert fast.threads[-1] != loop_thread  # the 60-row batch: on the scoring thread
    assert slow.threads and loop_thread not in set(slow.threads)  # pipeline: the thread


def test_a_failing_model_fails_only_its_own_requests(titanic_model) -> None:
    model, features, rows = titanic_model
    compiled, _ = build_predictor(model, features)

    class Broken:
        compiled = True

        def predict(self, rows: list[dict[str, Any]]) -> Scored:
            raise RuntimeError("model exploded")

    good, bad = _loaded("good", compiled, features), _loaded("bad", Broken(), features)

    async def run() -> list[Any]:
        batcher = MicroBatcher()
        batcher.start()
        try:
            jobs = [batcher.score(bad if i % 2 else good, rows[i : i + 1]) for i in range(20)]
            return await asyncio.gather(*jobs, return_exceptions=True)
        finally:
            await batcher.close()

    results = asyncio.run(run())
    for i, result in enumerate(results):
        if i % 2:
            assert isinstance(result, RuntimeError) and "exploded" in str(result)
        else:
            want = compiled.predict(rows[i : i + 1]).probability
            assert result.probability == pytest.approx(want, rel=1e-12)
