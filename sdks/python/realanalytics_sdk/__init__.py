"""realanalytics_sdk: send product-analytics events to a realanalytics ingest gateway.

``Client`` (threads, standard library only) for any Python server or script;
``AsyncClient`` (``pip install realanalytics-sdk[aiohttp]``) for asyncio servers.
"""

from typing import TYPE_CHECKING, Any

from realanalytics_sdk.client import DEFAULT_HOST, Client
from realanalytics_sdk.ledger import Stats
from realanalytics_sdk.version import VERSION

if TYPE_CHECKING:
    from realanalytics_sdk.aio import AsyncClient

__all__ = ["DEFAULT_HOST", "VERSION", "AsyncClient", "Client", "Stats"]
__version__ = VERSION


def __getattr__(name: str) -> Any:
    # aiohttp is optional: import it only when AsyncClient is asked for.
    if name == "AsyncClient":
        from realanalytics_sdk.aio import AsyncClient

        return AsyncClient
    raise AttributeError(name)
