"""The gateway's Prometheus metrics, in a registry owned by the app (no globals)."""

from prometheus_client import CollectorRegistry, Counter, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter(
            "ingest_requests_total", "Ingest requests by status", ["status"], registry=r
        )
        self.dropin_requests = Counter(
            "ingest_dropin_requests_total",
            "Segment, PostHog and Mixpanel tracking calls (ingest_gateway.dropin), by format"
            " and status",
            ["format", "status"],
            registry=r,
        )
        self.events_accepted = Counter(
            "ingest_events_accepted_total", "Events appended and acknowledged", registry=r
        )
        self.append_seconds = Histogram(
            "ingest_append_seconds",
            "Time from append start to Kafka acknowledgement",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        # One series per Kafka error class that made a producer give up (a handful).
        self.producer_replacements = Counter(
            "ingest_producer_replacements_total",
            "Kafka producers retired after giving up on a record (a new one connects; 503"
            " meanwhile), by the error",
            ["reason"],
            registry=r,
        )
        self.admission_batch = Histogram(
            "ingest_admission_batch_requests",
            "Requests admitted by one Redis round trip (ingest_gateway.admission: those that"
            " arrive while one is out go together in the next)",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=r,
        )
        self.rate_limited = Counter(
            "ingest_rate_limited_total", "Requests refused by the rate limit", registry=r
        )
        self.quota_refused = Counter(
            "ingest_quota_refused_total", "Requests refused by the monthly limit", registry=r
        )
        # One series per project that was ever answered while Redis was unreachable.
        self.unreserved_events = Counter(
            "ingest_unreserved_events_total",
            "Events answered 200 without a quota reservation (Redis unreachable: fail open);"
            " counted by the workers, past the limit if it comes to that, by project slug",
            ["project"],
            registry=r,
        )
        # One series per reason, and per project once the key resolved (project="" before):
        # at most the reasons times the projects that had a refusal. Keys never appear.
        self.refused = Counter(
            "ingest_refused_total",
            "Requests and connections refused, by reason and project slug",
            ["reason", "project"],
            registry=r,
        )
        # One series per project that was ever routed to the overflow lane.
        self.overflow_events = Counter(
            "ingest_overflow_events_total",
            "Events appended to the overflow topic (their project over the threshold), by"
            " project slug",
            ["project"],
            registry=r,
        )
        self.redis_failures = Counter(
            "ingest_redis_failures_total",
            "Redis calls that failed (the gateway then fails open)",
            ["operation"],
            registry=r,
        )
