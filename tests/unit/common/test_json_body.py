"""A body that is not JSON is refused with the service's own exception and the details."""

from typing import Any

import pytest

from common.json_body import json_document


class Refused(Exception):
    def __init__(self, details: list[dict[str, Any]]) -> None:
        super().__init__(details)
        self.details = details


@pytest.mark.parametrize("body", [b"", b"  \n"])
def test_an_empty_body_is_refused(body: bytes) -> None:
    with pytest.raises(Refused) as refused:
        json_document(body, Refused)
    assert refused.value.details == [{"field": None, "message": "Request body is empty."}]


def test_malformed_json_is_refused_with_the_parser_s_reason() -> None:
    with pytest.raises(Refused) as refused:
        json_document(b'{"a": ', Refused)
    [detail] = refused.value.details
    assert detail["field"] is None and detail["message"].startswith("Malformed JSON: ")


def test_a_document_is_returned_as_parsed() -> None:
    assert json_document(b'{"a": [1, "x"]}', Refused) == {"a": [1, "x"]}
