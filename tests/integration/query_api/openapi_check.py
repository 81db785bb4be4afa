"""Holds answers to the query API's own OpenAPI document (JSON Schema 2020-12 in 3.1)."""

from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from query_api.app import MOUNT_PREFIX
from query_api.openapi import build_spec


@cache
def _validator(status: str) -> Draft202012Validator:
    spec = build_spec(MOUNT_PREFIX)
    response = spec["paths"][MOUNT_PREFIX]["post"]["responses"][status]
    schema = response["content"]["application/json"]["schema"]
    return Draft202012Validator({**schema, "components": spec["components"]})


def assert_matches_spec(answer: Any, status: int = 200) -> None:
    errors = sorted(_validator(str(status)).iter_errors(answer), key=str)
    assert not errors, [e.message for e in errors]
