import uuid

from ingest_gateway.ids import uuid7_batch


def test_ids_are_version_7_with_the_rfc_variant_and_the_timestamp() -> None:
    unix_ms = 1_770_000_000_123
    ids = uuid7_batch(50, unix_ms)
    assert len(set(ids)) == 50
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert parsed.int >> 80 == unix_ms


def test_later_instants_sort_later() -> None:
    assert uuid7_batch(1, 1_000)[0] < uuid7_batch(1, 1_001)[0]
