"""Prometheus metrics of one app (its own registry: several apps may share a process).

Under ``champion serve --workers N`` (N > 1) the workers write their metrics to files in
``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode, set up by the
command) and ``/metrics`` of any worker answers for all of them: a scrape sees the
replica, not whichever worker it reached. Gauges then report the largest value of the
live workers.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


ENDPOINTS = ("predict", "batch")
#: Request outcomes other than an answer (``champion_requests{outcome=...}``).
FAILED_OUTCOMES = ("invalid", "error", "unavailable", "log_rejected", "log_unavailable")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.shared = multiprocess()
        # shared: values live in the directory's files; render() collects them all
        self.registry = CollectorRegistry()
        self._traffic()
        self._models()
        self._operations()
        self._served: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._initialise()

    def _traffic(self) -> None:
        self.requests = Counter(
            "champion_requests",
            "Prediction requests by variant and outcome.",
            ["endpoint", "variant", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "champion_request_latency_seconds",
            "Time to answer a prediction request, log commit included.",
            ["variant"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.log_write = Histogram(
            "champion_log_write_seconds",
            "Duration of one group commit of prediction rows.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.log_rows = Counter(
            "champion_log_rows", "Prediction rows committed.", registry=self.registry
        )
        self.score_batches = Counter(
            "champion_score_batches",
            "Micro-batches scored (each one call per model it holds).",
            registry=self.registry,
        )
        self.score_rows = Counter(
            "champion_score_rows",
            "Rows scored in micro-batches, over all models (rows / batches: the mean batch).",
            registry=self.registry,
        )

    def _models(self) -> None:
        self.model_version = Gauge(
            "champion_model_version",
            "Loaded model version per slot (the value is the version number; 0: none).",
            ["slot"],
            registry=self.registry,
            multiprocess_mode="max",
        )
        self.model_compiled = Gauge(
            "champion_model_compiled",
            "1 when the slot's model scores on the compiled numpy path, 0 on the pipeline.",
            ["slot"],
            registry=self.registry,
            multiprocess_mode="max",
        )
        self.model_load_failures = Counter(
            "champion_model_load_failures",
            "Versions that failed to load (counted once each; bad files, a refused digest).",
            ["slot"],
            registry=self.registry,
        )
        self.model_load_failing = Gauge(
            "champion_model_load_failing",
            "1 while the version an alias names cannot be loaded (the slot serves the "
            "previous one, or nothing).",
            ["slot"],
            registry=self.registry,
            multiprocess_mode="max",
        )

    def _operations(self) -> None:
        self.drift_detected = Gauge(
            "champion_drift_detected",
            "1 when the latest recorded drift check of the champion found drift, else 0.",
            registry=self.registry,
            multiprocess_mode="max",
        )
        self.drift_checked = Gauge(
            "champion_drift_last_check_timestamp_seconds",
            "When the latest recorded drift check ran (Unix time; 0: never).",
            registry=self.registry,
            multiprocess_mode="max",
        )
        self.notifications = Counter(
            "champion_notifications",
            "Webhook deliveries attempted by this API, by outcome (delivered, failed).",
            ["outcome"],
            registry=self.registry,
        )
        self.model_failures = Counter(
            "champion_model_failures",
            "Rows a model failed to score (its slot: champion or challenger).",
            ["slot"],
            registry=self.registry,
        )
        self.ignored_features = Counter(
            "champion_ignored_features",
            "Request features no model uses, ignored (CHAMPION_STRICT_FEATURES makes them 422).",
            registry=self.registry,
        )
        self.feedback = Counter(
            "champion_feedback", "Labels received by outcome.", ["outcome"], registry=self.registry
        )

    def _initialise(self) -> None:
        """Every series the dashboards and alert rules read exists from the start at 0
        (a rate over a series that appears later misses its first increase)."""
        for endpoint in ENDPOINTS:
            for variant in ("A", "B"):
                self.requests.labels(endpoint, variant, "ok")
            for outcome in FAILED_OUTCOMES:
                self.requests.labels(endpoint, "none", outcome)
        for variant in ("A", "B"):
            self.latency.labels(variant)
        for slot in ("champion", "challenger"):
            self.model_failures.labels(slot)
            self.model_load_failures.labels(slot)
            for gauge in (self.model_version, self.model_compiled, self.model_load_failing):
                gauge.labels(slot).set(0)
        for outcome in ("accepted", "duplicate", "invalid", "not_found", "conflict"):
            self.feedback.labels(outcome)
        for outcome in ("delivered", "pending", "failed"):
            self.notifications.labels(outcome)

    def served(self, endpoint: str, variant: str, seconds: float) -> None:
        """Count one answered request (label children cached: this runs per request)."""
        key = (endpoint, variant)
        children = self._served.get(key)
        if children is None:
            children = (
                self.requests.labels(endpoint, variant, "ok"),
                self.latency.labels(variant),
            )
            self._served[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        if not self.shared:
            return generate_latest(self.registry)
        everyone = CollectorRegistry()
        MultiProcessCollector(everyone)
        return generate_latest(everyone)
