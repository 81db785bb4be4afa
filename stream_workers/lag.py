"""Consumer lag per partition, as the ``lag`` command prints it.

The computation lives in ``common.lag`` (the dashboard's ops view shows the same
figures) and is re-exported here.

The numbers come from where Kafka's own ``kafka-consumer-groups --describe`` takes them
(the group coordinator's committed offsets and each partition's log-end offset), so the
two agree; freshness is now minus the receivedAt of the last record the sink applied in
that partition (from ``consumer_offsets`` in PostgreSQL). Beside them, PostgreSQL's stored
next offset and the state: ``ok``, or why the workers hold the partition.
"""

from common.lag import (
    PartitionLag,
    applied_received_at,
    compute_lag,
    group_lag,
    kafka_positions,
    lanes_lag,
)

__all__ = [
    "PartitionLag",
    "applied_received_at",
    "compute_lag",
    "format_table",
    "group_lag",
    "kafka_positions",
    "lanes_lag",
]


def format_table(rows: list[PartitionLag]) -> str:
    def show(value: object) -> str:
        return "-" if value is None else str(value)

    lines = [
        f"{'TOPIC':<24} {'PARTITION':>9} {'LOG-END':>10} {'COMMITTED':>10} {'LAG':>8}"
        f" {'FRESHNESS':>9} {'STORED':>10} STATE"
    ]
    for r in rows:
        fresh = "-" if r.freshness_seconds is None else f"{r.freshness_seconds:.1f}s"
        state = "ok" if r.inconsistency is None else f"HELD, inconsistent: {r.inconsistency}"
        lines.append(
            f"{r.topic:<24} {r.partition:>9} {r.log_end:>10} {show(r.committed):>10}"
            f" {show(r.lag):>8} {fresh:>9} {show(r.stored):>10} {state}"
        )
    return "\n".join(lines)
