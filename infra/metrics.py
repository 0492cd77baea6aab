"""Prometheus metrics, one registry per runtime so tests and processes do not share counters."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events_in = Counter(
            "linkage_events_in",
            "Events accepted at intake",
            ["domain"],
            registry=self.registry,
        )
        self.events_duplicate = Counter(
            "linkage_events_duplicate",
            "Events refused at intake as already received",
            ["domain"],
            registry=self.registry,
        )
        self.events_processed = Counter(
            "linkage_events_processed",
            "Events through the whole stream pipeline",
            registry=self.registry,
        )
        self.errors = Counter(
            "linkage_errors",
            "Errors by stage",
            ["stage"],
            registry=self.registry,
        )
        self.lag = Gauge(
            "linkage_pipeline_lag",
            "Accepted events not yet processed by the pipeline",
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "linkage_pipeline_batch_seconds",
            "Time to process one pipeline batch",
            registry=self.registry,
        )
        self.console_clients = Gauge(
            "linkage_console_clients",
            "Connected console websockets",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
