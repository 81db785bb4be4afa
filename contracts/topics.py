"""Kafka topic names shared by the gateway, the workers and the control plane."""

from enum import StrEnum


class Topic(StrEnum):
    """Default topic names; each service's settings may override them (tests use unique ones)."""

    EVENTS = "events"
    # A hot project's events, consumed by workers of their own (contracts/lanes.py).
    OVERFLOW = "events-overflow"
    CONTROL = "control"
    DEAD_LETTER = "events-dead-letter"


EVENTS_PARTITIONS = 12
