"""The drop-in formats the gateway answers, each in its own module."""

from ingest_gateway.dropin.mixpanel import MIXPANEL
from ingest_gateway.dropin.posthog import POSTHOG
from ingest_gateway.dropin.segment import SEGMENT
from ingest_gateway.dropin.wire import WireFormat

FORMATS: list[WireFormat] = [MIXPANEL, POSTHOG, SEGMENT]
