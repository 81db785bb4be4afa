"""The compiled config schema the control plane, the CLI and the consumers share."""

import pytest
from marshmallow import ValidationError

from contracts.config import load_config
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
