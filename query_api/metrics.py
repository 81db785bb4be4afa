"""The query API's Prometheus metrics, in a registry owned by the app (no globals)."""

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter(
            "query_requests_total",
            "Query requests by type and status",
            ["type", "status"],
            registry=r,
        )
        self.refusals = Counter(
            "query_refusals_total",
            "Query requests refused, by reason and project id (empty before the project is known)",
            ["reason", "project"],
            registry=r,
        )
        self.seconds = Histogram(
            "query_seconds",
            "Time to answer a query by type and source",
            ["type", "source"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
