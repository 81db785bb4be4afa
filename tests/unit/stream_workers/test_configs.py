from contracts.control import ConfigDeployed
from stream_workers.configs import BreakdownKeys, merge_keys
from stream_workers.rollups import DEFAULT_BREAKDOWN_KEYS


def test_merge_keys_keeps_defaults_first_without_repeats() -> None:
    merged = merge_keys(("plan", "$pathname", "tier"))
    assert merged == (*DEFAULT_BREAKDOWN_KEYS, "plan", "tier")
    assert len(merge_keys(tuple(f"k{n}" for n in range(100)), limit=10)) == 10


def test_breakdown_keys_default_then_follow_newer_versions_only() -> None:
    keys = BreakdownKeys()
    assert keys("p") == DEFAULT_BREAKDOWN_KEYS
    assert keys.apply(ConfigDeployed("p", 2, {"breakdownKeys": ["plan"]}))
    assert not keys.apply(ConfigDeployed("p", 1, {"breakdownKeys": ["old"]}))
    assert keys("p") == (*DEFAULT_BREAKDOWN_KEYS, "plan")
    assert keys("q") == DEFAULT_BREAKDOWN_KEYS


def test_keys_too_long_to_index_get_no_breakdown_rollups() -> None:
    # The control plane allows 200 characters; 200 astral ones are 800 bytes of UTF-8.
    too_long = "\U0001f600" * 200
    assert merge_keys(("plan", too_long, "a\x00b")) == (*DEFAULT_BREAKDOWN_KEYS, "plan")
    keys = BreakdownKeys()
    keys.apply(ConfigDeployed("p", 1, {"breakdownKeys": [too_long, "tier"]}))
    assert keys("p") == (*DEFAULT_BREAKDOWN_KEYS, "tier")
