"""Prometheus metrics of one app (its own registry: several apps may share a process)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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
        self.model_version = Gauge(
            "champion_model_version",
            "Loaded model version per slot (the value is the version number).",
            ["slot", "path"],
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
        self._served: dict[tuple[str, str], tuple[Any, Any]] = {}
        self.feedback = Counter(
            "champion_feedback", "Labels received by outcome.", ["outcome"], registry=self.registry
        )

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
        return generate_latest(self.registry)
