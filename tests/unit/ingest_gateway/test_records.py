from datetime import UTC, datetime

from contracts.events import decode_record
from ingest_gateway.records import build_records


def test_each_event_becomes_a_keyed_record_with_its_own_id() -> None:
    received = datetime(2026, 2, 3, 15, 30, 1, tzinfo=UTC)
    events = [
        {
            "event": "signup",
            "timestamp": datetime(2026, 2, 3, 15, 30, tzinfo=UTC),
            "distinctId": f"u{n}",
            "sessionId": "s",
            "properties": {"n": n},
            "insertId": None if n else "i-0",
        }
        for n in range(3)
    ]
    records = build_records("p1", events, received, {"userAgent": "ua"})
    assert [key for key, _ in records] == [b"p1:u0", b"p1:u1", b"p1:u2"]
    decoded = [decode_record(value) for _, value in records]
    assert len({r.id for r in decoded}) == 3
    assert all(r.received_at == received and r.project_id == "p1" for r in decoded)
    assert [r.properties for r in decoded] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert decoded[0].insert_id == "i-0" and decoded[1].insert_id is None
    assert decoded[2].context == {"userAgent": "ua"}


def test_a_message_s_own_end_user_replaces_the_request_s() -> None:
    received = datetime(2026, 2, 3, 15, 30, 1, tzinfo=UTC)
    event = {
        "event": "signup",
        "timestamp": received,
        "distinctId": "u",
        "sessionId": "s",
        "properties": {},
        "insertId": None,
    }
    request = {"userAgent": "analytics-python/2.4", "ip": "10.0.0.5"}  # the customer's server
    own = [{"userAgent": "Mozilla/5.0 (iPhone)", "ip": "8.8.8.8"}, {"ip": ""}, {}]
    records = build_records("p1", [event] * 3, received, request, own_contexts=own)
    contexts = [decode_record(value).context for _, value in records]
    assert contexts == [own[0], {"userAgent": "analytics-python/2.4"}, request]
