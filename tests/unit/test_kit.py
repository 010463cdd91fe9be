from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pitboard.kit.errors import ValidationFailed
from pitboard.kit.pagination import decode_cursor, encode_cursor
from pitboard.kit.security import generate_api_key, hash_api_key, hash_password, verify_password
from pitboard.kit.time import ensure_utc
from pitboard.worker.queue import MAX_BACKOFF_SECONDS, backoff_seconds


def test_cursor_round_trip_and_tampering() -> None:
    assert decode_cursor(encode_cursor(12345)) == 12345
    assert decode_cursor(None) is None
    for bad in ("!!!", "eyJ4IjogMX0", encode_cursor(-1)):
        with pytest.raises(ValidationFailed):
            decode_cursor(bad)


def test_password_hash_verifies_only_the_right_password() -> None:
    encoded = hash_password("s3cret-passphrase")
    assert encoded.startswith("scrypt$")
    assert verify_password("s3cret-passphrase", encoded)
    assert not verify_password("s3cret-passphrasE", encoded)
    assert not verify_password("s3cret-passphrase", "bcrypt$garbage")
    assert hash_password("same") != hash_password("same")  # salted


def test_api_keys_are_random_and_hashed() -> None:
    a, b = generate_api_key(), generate_api_key()
    assert a != b
    assert a.startswith("pb_")
    assert len(a) > 40
    assert hash_api_key(a) == hash_api_key(a) != hash_api_key(b)


def test_ensure_utc() -> None:
    naive = datetime(2026, 1, 1, 12, 0)
    assert ensure_utc(naive) == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    berlin = datetime(2026, 1, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    assert ensure_utc(berlin) == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert ensure_utc(berlin).tzinfo is UTC


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(1)
    for attempts in range(1, 8):
        value = backoff_seconds(attempts, rng=rng)
        assert 2**attempts / 2 <= value <= 2**attempts
    assert backoff_seconds(40, rng=rng) <= MAX_BACKOFF_SECONDS
