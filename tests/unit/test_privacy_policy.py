"""Validation of the retention policy (the pure part of privacy/retention.py)."""

from __future__ import annotations

from typing import Any

import pytest

from pitboard.kit.errors import ValidationFailed
from pitboard.privacy.retention import RetentionPolicy, validate_policy


def test_defaults() -> None:
    policy = validate_policy({})
    assert policy.model_dump() == {
        "inactive_contact_days": None, "exclude_lifecycle_stages": ["customer", "opportunity"],
        "quarantine_days": 90, "message_body_days": 365,
    }  # fmt: skip


def test_a_model_passes_through_and_stages_are_deduplicated() -> None:
    policy = RetentionPolicy(exclude_lifecycle_stages=["customer", "sql", "customer"])
    assert validate_policy(policy) is policy
    assert policy.exclude_lifecycle_stages == ["customer", "sql"]
    assert validate_policy({"exclude_lifecycle_stages": []}).exclude_lifecycle_stages == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"inactive_contact_days": 29}, "inactive_contact_days: Input should be greater than or equal to 30"),
        ({"inactive_contact_days": "400"}, "inactive_contact_days: Input should be a valid integer"),
        ({"quarantine_days": True}, "quarantine_days: Input should be a valid integer"),
        ({"message_body_days": 0}, "message_body_days: Input should be greater than or equal to 1"),
        ({"exclude_lifecycle_stages": ["customer", "vip"]}, "unknown lifecycle stage vip"),
        ({"keep_forever": True}, "keep_forever: Extra inputs are not permitted"),
    ],
)
def test_invalid_policies_are_refused_with_the_field_named(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_policy(data)
    assert message in caught.value.message


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_policy({"inactive_contact_days": 1, "quarantine_days": -1})
    assert len(caught.value.details) == 2
