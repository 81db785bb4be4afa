"""The drop-in formats the gateway answers, each in its own module."""

from ingest_gateway.dropin.posthog import POSTHOG
from ingest_gateway.dropin.wire import WireFormat

FORMATS: list[WireFormat] = [POSTHOG]
