"""The worker's Prometheus metrics, in a registry owned by the worker (no globals)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_FLUSH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_SIZE_BUCKETS = (1, 10, 100, 500, 1000, 2000, 5000, 10000, 20000)


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.events_applied = Counter(
            "worker_events_applied_total", "Events materialized into every projection", registry=r
        )
        self.duplicates = Counter(
            "worker_duplicates_total", "Events skipped as a repeated insertId", registry=r
        )
        self.dropped_deleted_project = Counter(
            "worker_dropped_deleted_project_total",
            "Events not materialized because their project no longer exists",
            registry=r,
        )
        self.dead_lettered = Counter(
            "worker_dead_lettered_total",
            "Records sent to the dead-letter topic, per reason (malformed, undecodable, or"
            " the database's condition name for a record it refused, e.g. check_violation)",
            ["reason"],
            registry=r,
        )
        self.redelivered = Counter(
            "worker_redelivered_total",
            "Records skipped because their offset was already applied (re-delivery)",
            registry=r,
        )
        self.held = Counter(
            "worker_held_records_total",
            "Records neither applied nor skipped because their partition is held as"
            " inconsistent with Kafka (applied after an operator's recovery)",
            registry=r,
        )
        self.elsewhere = Counter(
            "worker_other_shard_records_total",
            "Records of projects on another shard, passed over (that shard's workers apply"
            " them; contracts/shards.py)",
            registry=r,
        )
        self.erased = Counter(
            "worker_erased_records_total",
            "Records of deleted persons (a tombstone: issue 17) passed over, never applied",
            registry=r,
        )
        self.inconsistent = Gauge(
            "worker_partition_inconsistent",
            "1 for a partition whose stored offsets contradict Kafka (topic recreated, Kafka"
            " reset, records missing, offsets skipped): held until an operator recovers it",
            ["topic", "partition"],
            registry=r,
        )
        self.flush_seconds = Histogram(
            "worker_flush_seconds",
            "Time to apply one batch (one transaction)",
            buckets=_FLUSH_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "worker_batch_size", "Records per batch", buckets=_SIZE_BUCKETS, registry=r
        )
        self.retries = Counter(
            "worker_batch_retries_total",
            "Batch transactions retried after a deadlock",
            registry=r,
        )
        self.redis_failures = Counter(
            "worker_redis_failures_total", "Usage writes to Redis that failed", registry=r
        )
        self.lane = Gauge(
            "worker_lane_info",
            "1 for the lane this worker consumes (main or overflow), its group and topic",
            ["lane", "group", "topic"],
            registry=r,
        )
        self.lag = Gauge(
            "worker_consumer_lag",
            "Log-end offset minus committed offset, per partition",
            ["topic", "partition"],
            registry=r,
        )
        self.freshness = Gauge(
            "worker_freshness_seconds",
            "Now minus receivedAt of the last applied event, per partition",
            ["topic", "partition"],
            registry=r,
        )
