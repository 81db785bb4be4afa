import pytest

from contracts.lanes import Lane
from ingest_gateway.admission import UsageUnknown, admission_of
from ingest_gateway.ratelimit import RateDecision, RefusedKeys

KEY = "usage-key"


def test_over_the_rate_limit_nothing_is_reserved() -> None:
    admission = admission_of([0, 1001, 4000, 0, 0, 0], 1000, KEY, 5, 10_000, 300)
    assert not admission.rate.allowed and admission.rate.reset_seconds == 4
    assert admission.reservation is None and admission.lane.lane is Lane.MAIN


def test_refused_by_the_quota_with_what_was_used() -> None:
    admission = admission_of([1, 7, 4000, 9_990, 0, 0], 1000, KEY, 20, 10_000, 300)
    assert admission.rate.allowed and admission.reservation is not None
    assert not admission.reservation.granted
    assert (admission.reservation.usage.used, admission.reservation.usage.remaining) == (9_990, 10)


def test_admitted_and_routed_by_the_lane_meter() -> None:
    hot = admission_of([2, 7, 4000, 120, 301, -2], 1000, KEY, 20, 10_000, 300)
    assert hot.reservation is not None and hot.reservation.granted
    assert (hot.lane.lane, hot.lane.entered) == (Lane.OVERFLOW, True)
    off = admission_of([2, 7, 4000, 120, 0, 0], 1000, KEY, 20, 10_000, 0)
    assert off.lane.lane is Lane.MAIN


def test_no_usage_state_is_unknown_not_zero() -> None:
    # Redis lost the hash (a flush): read as zero it would admit a whole month again.
    with pytest.raises(UsageUnknown):
        admission_of([-1, 0, 0, 0, 0, 0], 1000, KEY, 20, 10_000, 300)


def test_a_refused_key_stays_refused_until_its_window_ends() -> None:
    keys = RefusedKeys(size=2)
    keys.remember("k", RateDecision(False, 1000, 0, 3), now=100.0)
    standing = keys.refused("k", now=101.2)
    assert standing is not None and standing.headers()["Retry-After"] == "2"
    assert keys.refused("k", now=103.0) is None
    assert keys.refused("other", now=101.0) is None


def test_refused_keys_stay_bounded() -> None:
    keys = RefusedKeys(size=2)
    for n in range(5):
        keys.remember(f"k{n}", RateDecision(False, 1, 0, 60), now=float(n))
    assert keys.refused("k4", now=5.0) is not None
    assert sum(keys.refused(f"k{n}", now=5.0) is not None for n in range(5)) <= 2
