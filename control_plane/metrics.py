"""The control plane's Prometheus metrics, in a registry owned by the app (no globals)."""

from prometheus_client import CollectorRegistry, Counter, Gauge


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter(
            "control_requests_total",
            "Control-plane requests by route and status",
            ["route", "status"],
            registry=r,
        )
        self.logins = Counter(
            "control_logins_total", "Login attempts by outcome", ["outcome"], registry=r
        )
        self.signups = Counter(
            "control_signups_total", "Sign-up requests by outcome", ["outcome"], registry=r
        )
        self.deploys = Counter("control_deploys_total", "Config versions stored", registry=r)
        self.deploys_refused = Counter(
            "control_deploys_refused_total",
            "Deploys refused before storing, by reason (invalid, too_large)",
            ["reason"],
            registry=r,
        )
        self.outbox_published = Counter(
            "control_outbox_published_total", "Outbox entries published to Kafka", registry=r
        )
        self.outbox_failed = Counter(
            "control_outbox_failed_total",
            "Outbox entries Kafka refused for their content, marked failed, by error",
            ["reason"],
            registry=r,
        )
        self.outbox_pending = Gauge(
            "control_outbox_pending", "Outbox entries not yet published", registry=r
        )
