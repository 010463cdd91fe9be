from __future__ import annotations

import pytest

from pitboard.contacts.custom_fields import CustomFieldError, FieldSpec, check_definition, coerce, coerce_all


@pytest.mark.parametrize(
    ("field_type", "raw", "stored"),
    [
        ("text", 12, "12"),
        ("number", "3.5", 3.5),
        ("integer", "42", 42),
        ("integer", 7.0, 7),
        ("boolean", "Yes", True),
        ("boolean", "0", False),
        ("boolean", False, False),
        ("date", "2026-11-24", "2026-11-24"),
        ("datetime", "2026-11-24T10:00:00+01:00", "2026-11-24T10:00:00+01:00"),
    ],
)
def test_coerces_valid_values(field_type: str, raw: object, stored: object) -> None:
    assert coerce(FieldSpec("f", field_type), raw) == stored


@pytest.mark.parametrize(
    ("field_type", "raw"),
    [("number", "abc"), ("number", True), ("integer", 1.5), ("integer", True), ("boolean", "maybe"), ("date", "24/11")],
)
def test_rejects_wrong_types_with_the_field_name(field_type: str, raw: object) -> None:
    with pytest.raises(CustomFieldError, match=f"f must be a {field_type}"):
        coerce(FieldSpec("f", field_type), raw)


def test_enums_and_multi_enums() -> None:
    plan = FieldSpec("plan", "enum", ("free", "pro"))
    assert coerce(plan, "pro") == "pro"
    with pytest.raises(CustomFieldError, match="plan must be one of free, pro"):
        coerce(plan, "Pro")
    tags = FieldSpec("tags", "multi_enum", ("a", "b", "c"))
    assert coerce(tags, "a; c") == ["a", "c"]
    assert coerce(tags, ["b"]) == ["b"]
    with pytest.raises(CustomFieldError):
        coerce(tags, "a;z")


def test_required_and_unknown_fields_are_reported_together() -> None:
    specs = {"plan": FieldSpec("plan", "enum", ("free",), required=True), "seats": FieldSpec("seats", "integer")}
    with pytest.raises(CustomFieldError) as info:
        coerce_all(specs, {"seats": "x", "colour": "red"}, partial=False)
    message = str(info.value)
    assert "seats must be a integer" in message
    assert "colour is not a defined custom field" in message
    assert "plan is required" in message
    assert coerce_all(specs, {"seats": "3"}, partial=True) == {"seats": 3}


@pytest.mark.parametrize(
    ("name", "field_type", "options", "problem"),
    [
        ("Plan", "text", None, "lower_snake_case"),
        ("plan", "colour", None, "not one of"),
        ("plan", "enum", None, "needs a list of options"),
    ],
)
def test_bad_definitions(name: str, field_type: str, options: list[str] | None, problem: str) -> None:
    with pytest.raises(CustomFieldError, match=problem):
        check_definition(name, field_type, options)
