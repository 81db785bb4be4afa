"""Where a visit came from: UTM tags, the referring domain and the channel (decision 0017).

Pure functions of ``$url`` and ``$referrer``. The channel rules (docs/analytics.md has
the table) look at the UTM tags first — a campaign says what it is — then at the
referring domain, first match wins:

1. ``paid``: ``utm_medium`` is a paid medium (cpc, ppc, cpm, paid…, display…), or the URL
   carries an ad click id (gclid, gbraid, wbraid, msclkid, dclid).
2. ``email``: ``utm_medium`` or ``utm_source`` names email or a newsletter.
3. ``social``: ``utm_medium`` is social, or ``utm_source`` / the referring domain is a
   social network.
4. ``search``: ``utm_medium`` is organic, or ``utm_source`` / the referring domain is a
   search engine.
5. ``referral``: any other referring domain, or UTM tags no rule above knows.
6. ``direct``: no tags and no referrer from another site (the site's own pages included).
"""

from typing import Any
from urllib.parse import SplitResult, parse_qs, urlsplit

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
MAX_TAG_CHARS = 200
CLICK_IDS = frozenset({"gclid", "gbraid", "wbraid", "msclkid", "dclid"})

PAID_MEDIA = frozenset({"cpc", "ppc", "cpm", "cpv", "cpa", "paid", "display", "banner", "ads"})
EMAIL_WORDS = frozenset({"email", "e-mail", "e_mail", "mail", "newsletter"})
SOCIAL_MEDIA = frozenset({"social", "social-network", "social-media", "sm", "social_media"})
ORGANIC_MEDIA = frozenset({"organic", "seo"})

# Site names (a host's label before its public suffix: ``site_name``) of search engines and
# social networks: ``google`` matches google.com, www.google.co.uk and utm_source=google.
SEARCH_ENGINES = frozenset(
    {"google", "bing", "yahoo", "duckduckgo", "baidu", "yandex", "ecosia", "qwant", "naver",
     "seznam", "startpage", "brave", "kagi"}
)  # fmt: skip
SOCIAL_NETWORKS = frozenset(
    {"facebook", "fb", "instagram", "twitter", "x", "t", "linkedin", "lnkd", "reddit",
     "pinterest", "tiktok", "youtube", "youtu", "threads", "mastodon", "bsky", "snapchat",
     "tumblr", "quora", "vk", "weibo", "discord", "telegram", "whatsapp"}
)  # fmt: skip
# Second-level labels under a country code (google.co.uk, yahoo.com.au): the site name is
# the label before them. A public-suffix list would be exact; this is enough for the lists.
_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "ac", "gov", "edu", "ne", "or", "go"})


def _split(url: Any) -> SplitResult | None:
    """An absolute URL's parts; None for anything else."""
    if type(url) is not str or "//" not in url:
        return None
    try:
        parts = urlsplit(url.strip())
        parts.hostname  # noqa: B018 - raises ValueError for a bad host ("http://[::1")
    except ValueError:
        return None
    return parts


def _host(parts: SplitResult | None) -> str | None:
    """The lower-case host, without port or ``www.``; None if none."""
    host = parts.hostname if parts is not None else None
    if not host:
        return None
    return host[4:] if host.startswith("www.") else host


def host_of(url: Any) -> str | None:
    """The lower-case host of an absolute URL, without port or ``www.``; None if none."""
    return _host(_split(url))


def utm_tags(query: dict[str, list[str]]) -> dict[str, str]:
    """The UTM tags of a page URL's query (each tag's first value, cut to MAX_TAG_CHARS)."""
    return {k: query[k][0][:MAX_TAG_CHARS] for k in UTM_KEYS if query.get(k) and query[k][0]}


def site_name(host: str) -> str:
    """``google`` of www.google.co.uk, ``facebook`` of l.facebook.com, ``t`` of t.co."""
    labels = host.lower().strip(".").split(".")
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL:
        return labels[-3]
    return labels[-2] if len(labels) >= 2 else labels[0]


def _named(text: str, names: frozenset[str]) -> bool:
    """Whether a host or a ``utm_source`` (a name, or a host) is one of ``names``."""
    return site_name(text) in names


def channel(tags: dict[str, str], referring: str | None, paid_click: bool = False) -> str:
    """The channel of a visit by the module's rules (first match wins)."""
    medium = tags.get("utm_medium", "").lower()
    source = tags.get("utm_source", "").lower()
    if paid_click or medium in PAID_MEDIA or medium.startswith(("paid", "display")):
        return "paid"
    if medium in EMAIL_WORDS or source in EMAIL_WORDS:
        return "email"
    if medium in SOCIAL_MEDIA or (source and _named(source, SOCIAL_NETWORKS)):
        return "social"
    if medium in ORGANIC_MEDIA or (source and _named(source, SEARCH_ENGINES)):
        return "search"
    if referring is not None:
        if _named(referring, SOCIAL_NETWORKS):
            return "social"
        if _named(referring, SEARCH_ENGINES):
            return "search"
        return "referral"
    return "referral" if tags else "direct"


def sent_tags(properties: dict[str, Any]) -> dict[str, str]:
    """The UTM tags an event carries as properties of its own (a server-side call's campaign:
    Segment's ``context.campaign``, a PostHog or Mixpanel ``utm_*`` property)."""
    return {k: v[:MAX_TAG_CHARS] for k in UTM_KEYS if type(v := properties.get(k)) is str and v}


def with_sent_tags(found: dict[str, str], properties: dict[str, Any]) -> dict[str, str]:
    """``found`` (from the URLs) with ``$channel`` decided again when the event carries UTM
    tags of its own, which win over the URL's (an ad click id in the URL still says paid)."""
    sent = sent_tags(properties)
    if not sent:
        return found
    tags = {**{k: v for k, v in found.items() if k in UTM_KEYS}, **sent}
    paid_click = found.get("$channel") == "paid" and not found.get("utm_medium")
    return {**found, "$channel": channel(tags, found.get("$referringDomain"), paid_click)}


def campaign_properties(properties: dict[str, Any]) -> dict[str, str]:
    """UTM tags, ``$referringDomain`` and ``$channel`` from ``$url`` and ``$referrer``. A
    referrer on the page's own host is not a referring domain (navigation inside the site)."""
    page = _split(properties.get("$url"))
    query = parse_qs(page.query) if page is not None and page.query else {}
    found = utm_tags(query)
    referring = host_of(properties.get("$referrer"))
    if referring is not None and referring == _host(page):
        referring = None
    if referring is not None:
        found["$referringDomain"] = referring
    found["$channel"] = channel(found, referring, not CLICK_IDS.isdisjoint(query))
    return found
