"""The RE2 matcher answers as crawlerdetect itself does, on crawlers and browsers alike."""

import random
import string

from crawlerdetect import CrawlerDetect

from stream_workers.crawlers import Crawlers

AGENTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.0; +https://openai.com/gptbot)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 (compatible; YandexSearch/1.0)",  # the list's one lookahead: not a bot
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like"
    " Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/126.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.5 Safari/605.1.15",
    "python-requests/2.31.0",
    "curl/8.5.0",
    "",
]


def test_the_same_answers_as_crawlerdetect() -> None:
    rng = random.Random(3)
    noise = ["".join(rng.choices(string.printable, k=rng.randrange(1, 120))) for _ in range(300)]
    reference, fast = CrawlerDetect(), Crawlers()
    answers = [(agent, fast.match(agent)) for agent in AGENTS + noise]
    assert answers == [(agent, reference.is_crawler(agent)) for agent in AGENTS + noise]
    assert [fast.match(a) for a in AGENTS[:7]] == [True] * 5 + [False, True]
