"""The two ingest lanes: which topic and consumer group each one uses.

The gateway appends a project's events to the main lane (the ``events`` topic) until the
project sends more than its overflow threshold; it then goes to the overflow lane (its
own topic, same records) for a while (``ingest_gateway.lanes``). Each lane is consumed by
its own workers in a consumer group of its own, so one project's backlog on the overflow
lane never holds back the projects on the main lane. Both lanes write the same tables;
exactly-once holds per (consumer group, topic, partition), dedup and the plan limit per
project whatever the lane, and each lane counts usage in slots of its own
(``contracts.usage.usage_slot``).

Every service derives both names from two settings: the events topic and the workers'
group (the main lane's); the overflow lane's are those names plus ``-overflow``, unless
the overflow topic is set on its own (``RA_OVERFLOW_TOPIC``).
"""

from enum import StrEnum

OVERFLOW_SUFFIX = "-overflow"


class Lane(StrEnum):
    MAIN = "main"
    OVERFLOW = "overflow"


def overflow_topic_for(events_topic: str) -> str:
    """The overflow topic that goes with ``events_topic`` (``events`` -> ``events-overflow``)."""
    return events_topic + OVERFLOW_SUFFIX


def lane_group(group: str, lane: Lane) -> str:
    """The consumer group of ``lane``'s workers, from the main lane's ``group``."""
    return group if lane is Lane.MAIN else group + OVERFLOW_SUFFIX


def lane_topic(lane: Lane, events_topic: str, overflow_topic: str | None = None) -> str:
    """The topic ``lane`` reads; the overflow topic defaults to ``overflow_topic_for``."""
    if lane is Lane.MAIN:
        return events_topic
    return overflow_topic or overflow_topic_for(events_topic)
