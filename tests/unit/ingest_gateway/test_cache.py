from ingest_gateway.cache import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    cache: TtlCache[str, int | None] = TtlCache(ttl_seconds=10, clock=clock)
    cache.put("k", 1)
    cache.put("miss", None)
    clock.now += 9.9
    assert cache.get("k") == (True, 1)
    assert cache.get("miss") == (True, None)
    clock.now += 0.2
    assert cache.get("k") == (False, None)


def test_oldest_entries_are_evicted_beyond_the_bound() -> None:
    cache: TtlCache[int, int] = TtlCache(ttl_seconds=10, max_entries=2, clock=Clock())
    for i in range(3):
        cache.put(i, i)
    assert cache.get(0) == (False, None)
    assert cache.get(2) == (True, 2)
