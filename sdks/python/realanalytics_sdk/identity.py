"""``identify`` and ``alias``: one person from two distinct ids (the ``$identify`` event).

The workers merge ``properties.$anonDistinctId`` into the event's ``distinctId`` for good
(funnels, retention and unique users from raw events count the person once, backwards in
time too). Both clients take these methods from ``Identity``; each is one ``track``.
"""

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any

IDENTIFY = "$identify"
ANON_KEY = "$anonDistinctId"


class Identity:
    @abstractmethod
    def track(
        self, event: str, distinct_id: str, properties: Mapping[str, Any] | None = None
    ) -> bool: ...

    def identify(
        self, distinct_id: str, anonymous_id: str, properties: Mapping[str, Any] | None = None
    ) -> bool:
        """The user known as ``distinct_id`` is the one seen before as ``anonymous_id``
        (e.g. at login or sign-up). False if not taken, as ``track``."""
        if not anonymous_id:
            raise ValueError("identify() needs the earlier (anonymous) id")
        return self.track(IDENTIFY, distinct_id, {**(properties or {}), ANON_KEY: anonymous_id})

    def alias(self, previous_id: str, distinct_id: str) -> bool:
        """``previous_id`` (any earlier id, e.g. one your backend used) is ``distinct_id``
        from now on: the same merge as ``identify``, arguments in Mixpanel's order."""
        return self.identify(distinct_id, previous_id)
