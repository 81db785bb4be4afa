"""The CLI's compile step refuses what the deploy would refuse: repeats and oversize."""

import pytest

from contracts.config import MAX_CONFIG_BYTES
from control_plane.config_file import ConfigFileError, compile_config, parse_config_text

DUPLICATE_EVENT = """
project: shop
tracking_plan:
  events:
    signup: {properties: {plan: string}}
    signup: {properties: {coupon: string}}
"""
DUPLICATE_PROPERTY = """
tracking_plan:
  events:
    signup:
      properties: {plan: string, plan: integer}
"""


@pytest.mark.parametrize(
    ("text", "key"), [(DUPLICATE_EVENT, "signup"), (DUPLICATE_PROPERTY, "plan")]
)
def test_a_name_given_twice_is_refused_not_silently_replaced(text: str, key: str) -> None:
    with pytest.raises(ConfigFileError, match=f"'{key}' appears more than once"):
        parse_config_text(text)


def test_distinct_names_compile() -> None:
    project, config = parse_config_text("project: shop\nbreakdown_keys: [plan]\n")
    assert project == "shop" and config["breakdownKeys"] == ["plan"]


def test_an_oversized_config_fails_to_compile() -> None:
    events = {
        f"event_{i:04}": {"properties": {f"p_{j:02}_{'x' * 40}": "string" for j in range(10)}}
        for i in range(600)
    }
    with pytest.raises(ConfigFileError, match=f"the limit is {MAX_CONFIG_BYTES} bytes"):
        compile_config({"tracking_plan": {"events": events}})


def test_broken_yaml_is_a_config_file_error() -> None:
    with pytest.raises(ConfigFileError, match="not valid YAML"):
        parse_config_text("a: [unclosed")
