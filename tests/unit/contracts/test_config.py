"""The compiled config schema the control plane, the CLI and the consumers share."""

import pytest
from marshmallow import ValidationError

from contracts.config import MAX_CONFIG_BYTES, config_size, config_too_large, load_config
from control_plane.outbox import highest_outbox_id


def test_an_empty_config_is_completed_with_defaults() -> None:
    assert load_config({}) == {
        "trackingPlan": {"mode": "lenient", "events": {}},
        "breakdownKeys": [],
        "allowedOrigins": [],
        "retentionDays": 365,
    }


def test_a_full_config_loads_unchanged() -> None:
    config = {
        "trackingPlan": {
            "mode": "strict",
            "events": {
                "signup": {"properties": {"plan": "string", "n": "integer"}, "required": []}
            },
        },
        "breakdownKeys": ["plan", "$pathname"],
        "allowedOrigins": ["https://shop.example", "http://localhost:3000"],
        "retentionDays": 30,
    }
    assert load_config(config) == config


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"trackingPlan": {"mode": "loose"}}, "trackingPlan"),
        ({"trackingPlan": {"events": {"e": {"properties": {"k": "text"}}}}}, "trackingPlan"),
        ({"trackingPlan": {"events": {"e": {"required": ["k"]}}}}, "trackingPlan"),
        ({"breakdownKeys": ["a", "a"]}, "breakdownKeys"),
        ({"breakdownKeys": [f"k{i}" for i in range(21)]}, "breakdownKeys"),
        ({"allowedOrigins": ["https://x.example/path"]}, "allowedOrigins"),
        ({"allowedOrigins": ["*"]}, "allowedOrigins"),
        ({"retentionDays": 0}, "retentionDays"),
        ({"retentionDays": "30"}, "retentionDays"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_invalid_configs_say_where(config: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        load_config(config)
    assert field in caught.value.messages


def test_a_config_must_be_an_object() -> None:
    with pytest.raises(ValidationError):
        load_config(["nope"])


def test_highest_outbox_id_reads_only_the_relay_header() -> None:
    assert highest_outbox_id([]) == 0
    assert highest_outbox_id([[("ra-outbox-id", b"7")], [("other", b"99")], []]) == 7
    assert highest_outbox_id([[("ra-outbox-id", b"3")], [("ra-outbox-id", b"12")]]) == 12
    assert highest_outbox_id([[("ra-outbox-id", b"x")]]) == 0


def plan_with(spec: dict[str, object]) -> dict[str, object]:
    return {"trackingPlan": {"mode": "strict", "events": {"signup": spec}}}


@pytest.mark.parametrize(
    "config",
    [
        # A required property listed many times once made one bad event a 400 listing it
        # as often as it was listed (a crash at 250k).
        plan_with({"properties": {"plan": "string"}, "required": ["plan"] * 1000}),
        plan_with({"properties": {"plan": "string"}, "required": ["plan", "plan"]}),
        plan_with({"properties": {f"p{i}": "string" for i in range(101)}}),
        plan_with({"properties": {"p": "string"}, "required": [""]}),
        {"allowedOrigins": ["https://" + "a" * 300 + ".example"]},
        {"trackingPlan": {"events": {f"e{i}": {} for i in range(1001)}}},
        {"trackingPlan": {"events": {"e" * 101: {}}}},
    ],
)
def test_repeated_or_unbounded_plan_entries_are_refused(config: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        load_config(config)


def test_the_compiled_size_is_measured_against_the_documented_limit() -> None:
    small = load_config({})
    assert config_too_large(small) is None
    events = {
        f"event_{i:04}": {"properties": {f"p_{j:02}_{'x' * 40}": "string" for j in range(10)}}
        for i in range(600)
    }
    big = load_config({"trackingPlan": {"events": events}})
    size = config_size(big)
    assert size > MAX_CONFIG_BYTES
    assert config_too_large(big) == (
        f"The compiled config is {size} bytes; the limit is {MAX_CONFIG_BYTES} bytes."
    )


@pytest.mark.parametrize("key", ["\U0001f600" * 51, "a" * 199 + "é", "plan\x00"])
def test_a_breakdown_key_the_workers_could_not_roll_up_is_refused(key: str) -> None:
    # 200 characters of 4-byte UTF-8 are 800 bytes: a rollup row over the index limit.
    with pytest.raises(ValidationError) as refused:
        load_config({"breakdownKeys": [key]})
    assert "breakdownKeys" in refused.value.messages


def test_a_breakdown_key_of_200_bytes_is_accepted() -> None:
    assert load_config({"breakdownKeys": ["é" * 100]})["breakdownKeys"] == ["é" * 100]
