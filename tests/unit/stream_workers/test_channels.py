"""UTM tags, referring domains and the channel rules of docs/analytics.md."""

import pytest

from stream_workers.channels import campaign_properties, site_name


@pytest.mark.parametrize(
    ("url", "referrer", "channel"),
    [
        ("https://shop.example/", None, "direct"),
        ("https://shop.example/", "", "direct"),
        ("https://shop.example/b", "https://shop.example/a", "direct"),  # inside the site
        ("https://shop.example/", "https://www.google.co.uk/", "search"),
        ("https://shop.example/", "https://duckduckgo.com/", "search"),
        ("https://shop.example/", "https://l.facebook.com/l.php", "social"),
        ("https://shop.example/", "https://t.co/abc", "social"),
        ("https://shop.example/", "https://news.ycombinator.com/item?id=1", "referral"),
        ("https://shop.example/?utm_source=google&utm_medium=cpc", None, "paid"),
        ("https://shop.example/?gclid=abc", "https://www.google.com/", "paid"),
        ("https://shop.example/?utm_source=news&utm_medium=email", None, "email"),
        ("https://shop.example/?utm_source=newsletter", None, "email"),
        ("https://shop.example/?utm_source=twitter", None, "social"),
        ("https://shop.example/?utm_medium=social&utm_source=acme", None, "social"),
        ("https://shop.example/?utm_source=bing&utm_medium=organic", None, "search"),
        ("https://shop.example/?utm_source=partner", None, "referral"),
        ("https://shop.example/?utm_medium=paid_social&utm_source=facebook", None, "paid"),
    ],
)
def test_channel_rules(url: str, referrer: str | None, channel: str) -> None:
    properties = {"$url": url, "$referrer": referrer}
    assert campaign_properties(properties)["$channel"] == channel


def test_utm_tags_and_referring_domain() -> None:
    found = campaign_properties(
        {
            "$url": "https://shop.example/p?utm_source=google&utm_medium=cpc&utm_campaign=spring"
            "&utm_term=running+shoes&utm_content=ad%201&utm_id=9",
            "$referrer": "https://www.Google.com:443/search?q=x",
        }
    )
    assert found == {
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "spring",
        "utm_term": "running shoes",
        "utm_content": "ad 1",
        "$referringDomain": "google.com",
        "$channel": "paid",
    }


def test_values_that_are_not_urls_add_only_a_channel() -> None:
    assert campaign_properties({"$url": 5, "$referrer": ["x"]}) == {"$channel": "direct"}
    assert campaign_properties({"$url": "http://[::1", "$referrer": "nope"}) == {
        "$channel": "direct"
    }


@pytest.mark.parametrize(
    ("host", "name"),
    [("www.google.co.uk", "google"), ("l.facebook.com", "facebook"), ("t.co", "t"),
     ("yahoo.com.au", "yahoo"), ("localhost", "localhost")],
)  # fmt: skip
def test_site_names(host: str, name: str) -> None:
    assert site_name(host) == name
