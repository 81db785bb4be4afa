import hashlib
import uuid

from contracts.erasure import person_digest, project_lock_key


def test_a_persons_digest_is_the_sha256_of_the_utf8_distinct_id() -> None:
    # The sink computes sha256(convert_to(distinct_id, 'UTF8')) in SQL: the same bytes.
    assert person_digest("ünïcode-user") == hashlib.sha256("ünïcode-user".encode()).digest()
    assert person_digest("a") != person_digest("b")


def test_project_lock_keys_are_signed_64_bit_and_stable() -> None:
    ids = [str(uuid.uuid4()) for _ in range(1000)]
    keys = [project_lock_key(p) for p in ids]
    assert all(-(2**63) <= k < 2**63 for k in keys)
    assert keys == [project_lock_key(p) for p in ids]
    assert len(set(keys)) == len(ids)
