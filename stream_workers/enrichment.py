"""Properties the workers add to each event from its user agent, address and URLs.

Applied as each record is decoded into its staged row (``stream_workers.received``), so a
replay, the isolation path and every worker add the same properties (decision 0017). What
is added, by contract (docs/analytics.md):

- from ``context.userAgent``: ``$browser``, ``$browserVersion``, ``$os``, ``$deviceType``
  (ua-parser's family names), and ``$bot: true`` for a known crawler (crawlerdetect) —
  never for the server clients of ``SERVER_CLIENT`` (HTTP libraries and analytics SDKs,
  which crawlerdetect's list partly matches);
- from ``context.ip``: ``$country`` (and ``$region``, ``$city`` when the database has them);
  the address then leaves ``context``, so it is stored nowhere in PostgreSQL;
- from ``$url`` and ``$referrer``: UTM tags, ``$referringDomain``, ``$channel``
  (``stream_workers.channels``).

A property the client sent is kept (the client wins), except ``$bot``, which only the
crawler list decides. A user agent is parsed once per worker (an LRU: the same few
thousand agents repeat), as are an address's country and a page's campaign properties.
"""

import functools
import os
import re
from collections.abc import Mapping
from typing import Any

import geoip2fast
import ua_parser
from geoip2fast import GeoIP2Fast

from stream_workers.channels import UTM_KEYS, campaign_properties, with_sent_tags
from stream_workers.crawlers import Crawlers
from stream_workers.decoding import Decoded

DEFAULT_GEOIP_DATABASE = os.path.join(
    os.path.dirname(geoip2fast.__file__), "geoip2fast-ipv6.dat.gz"
)  # countries of IPv4 and IPv6 (GeoLite2 Country, as the package ships it)
AGENT_CACHE = 8192
ADDRESS_CACHE = 8192
PAGE_CACHE = 8192  # (page URL, referrer) pairs

# A product token of a server-side client (an HTTP library, a runtime, a command-line
# tool, an analytics SDK): an agent naming one anywhere is never a crawler's, though
# crawlerdetect's list matches many of them ("Python/3.11 aiohttp/3.9", "Wget/1.21").
SERVER_CLIENT = re.compile(
    r"(?:^|[\s(;,])(?:python|python-requests|python-urllib3?|python-httpx|aiohttp|httpx"
    r"|urllib3|curl|libcurl|wget|httpie|postmanruntime|insomnia|okhttp|go-http-client"
    r"|java|java-http-client|apache-httpclient|jersey|axios|node-fetch|undici|node|deno|bun"
    r"|got|ruby|faraday|guzzlehttp|php|dart|libwww-perl|realanalytics-[\w.-]+"
    r"|posthog-[\w.-]+|analytics-[\w.-]+|segment[\w.-]*|mixpanel-[\w.-]+"
    r"|amplitude-[\w.-]+|rudder[\w.-]*)(?:/|\s+v?\d)",
    re.IGNORECASE,
)
MOBILE_OS = frozenset(
    {"iOS", "Windows Phone", "BlackBerry OS", "KaiOS", "Firefox OS", "Symbian OS", "HarmonyOS"}
)
TABLET_DEVICES = ("iPad", "Kindle", "Tablet", "Nexus 7", "Nexus 9", "Nexus 10")


def device_type(os_family: str | None, device_family: str, agent: str) -> str | None:
    """``desktop``, ``mobile`` or ``tablet``; None for an agent of no known OS (a server
    client). Android without "Mobile" is a tablet (Google's rule for Android agents)."""
    if any(t in device_family for t in TABLET_DEVICES) or "iPad" in agent:
        return "tablet"
    if os_family is None:
        return None
    if os_family == "Android":
        return "mobile" if "Mobile" in agent else "tablet"
    if os_family in MOBILE_OS:
        return "mobile"
    return "desktop"


def _known(family: str | None) -> str | None:
    return None if family in (None, "", "Other") else family


class GeoDatabase:
    """Countries (and, in a database that has them, regions and cities) of addresses:
    a geoip2fast data file, replaced to refresh it (``RA_GEOIP_DATABASE``)."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or DEFAULT_GEOIP_DATABASE
        self._db = GeoIP2Fast(geoip2fast_data_file=self.path)
        self.location = functools.lru_cache(maxsize=ADDRESS_CACHE)(self._location)

    def _location(self, ip: str) -> Mapping[str, str]:
        """``$country`` (ISO 3166-1 alpha-2), ``$region``, ``$city`` of a public address;
        nothing for a private, reserved or unknown one."""
        # geoip2fast answers "--" for private and reserved ranges and "" for what is not
        # an address (the gateway wrote it: IPv4-mapped IPv6 already as IPv4).
        found = self._db.lookup(ip)
        country = found.country_code
        if type(country) is not str or len(country) != 2 or not country.isalpha():
            return {}
        place = {"$country": country}
        city = getattr(found, "city", None)  # the package's city files have these
        region, name = getattr(city, "subdivision_name", ""), getattr(city, "name", "")
        if region and type(region) is str:
            place["$region"] = region
        if name and type(name) is str:
            place["$city"] = name
        return place


UTM_KEYS_SET = frozenset(UTM_KEYS)


class Enricher:
    """The properties an event gets from its context and URLs (the module's rules)."""

    def __init__(self, geo: GeoDatabase) -> None:
        self.geo = geo
        # The native matcher (ua-parser-rs) when installed, as ua_parser's own global does.
        self._parser = ua_parser.Parser.from_matchers(
            ua_parser.load_lazy_builtins()
            if ua_parser.RegexResolver is not None
            else ua_parser.load_builtins()
        )
        self._crawlers = Crawlers()
        self.agent = functools.lru_cache(maxsize=AGENT_CACHE)(self._agent)
        self.campaign = functools.lru_cache(maxsize=PAGE_CACHE)(self._campaign)

    @staticmethod
    def _campaign(url: str | None, referrer: str | None) -> Mapping[str, str]:
        return campaign_properties({"$url": url, "$referrer": referrer})

    def _agent(self, agent: str) -> tuple[Mapping[str, str], bool]:
        """The agent's browser, OS and device type, and whether it is a crawler."""
        parsed = self._parser(agent, ua_parser.Domain.ALL).complete()
        found: dict[str, str] = {}
        browser = _known(parsed.user_agent.family if parsed.user_agent else None)
        if browser is not None and parsed.user_agent is not None:
            found["$browser"] = browser
            version = ".".join(v for v in (parsed.user_agent.major, parsed.user_agent.minor) if v)
            if version:
                found["$browserVersion"] = version
        os_family = _known(parsed.os.family if parsed.os else None)
        if os_family is not None:
            found["$os"] = os_family
        device = device_type(os_family, parsed.device.family if parsed.device else "", agent)
        if device is not None:
            found["$deviceType"] = device
        bot = SERVER_CLIENT.search(agent) is None and self._crawlers.match(agent)
        return found, bot

    def properties(self, properties: dict[str, Any], context: Mapping[str, str]) -> dict[str, Any]:
        """``properties`` with what the event's context and URLs add (the client's own
        values kept, ``$bot`` decided here alone)."""
        added: dict[str, Any] = {}
        bot = False
        agent = context.get("userAgent")
        if agent:
            described, bot = self.agent(agent)
            added.update(described)
        ip = context.get("ip")
        if ip:
            added.update(self.geo.location(ip))
        if "$url" in properties or "$referrer" in properties:
            url, referrer = properties.get("$url"), properties.get("$referrer")
            if (url is None or type(url) is str) and (referrer is None or type(referrer) is str):
                campaign = dict(self.campaign(url, referrer))  # pages repeat: cached
            else:
                campaign = campaign_properties(properties)
            added.update(with_sent_tags(campaign, properties))
        elif not UTM_KEYS_SET.isdisjoint(properties):
            added.update(with_sent_tags({"$channel": "direct"}, properties))
        enriched = {**added, **properties}
        if bot:
            enriched["$bot"] = True
        else:
            enriched.pop("$bot", None)
        return enriched

    def apply(self, record: Decoded) -> Decoded:
        """The record enriched, its context without the address."""
        context = record.context
        if "ip" in context:
            context = {k: v for k, v in context.items() if k != "ip"}
        return record._replace(
            properties=self.properties(record.properties, record.context), context=context
        )


@functools.lru_cache(maxsize=4)
def load_enricher(geoip_database: str | None = None) -> Enricher:
    """One enricher per database file and process: its tables take ~0.3 s and ~50 MB."""
    return Enricher(GeoDatabase(geoip_database))
