"""Naming conventions and UTM rules: generation, validation and suggested fixes (pure logic)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import ValidationError

from pitboard.kit.errors import ValidationFailed
from pitboard.workboard.config import DEFAULT, CampaignOpsFile, default_spec
from pitboard.workboard.naming import build_utm_url, check_name, check_utm, closest, generate_name

SPEC = default_spec().naming


def test_generate_joins_fields_in_order() -> None:
    name = generate_name(SPEC, {"topic": "data-day", "year": "2026", "channel": "webinar", "region": "emea"})
    assert name == "2026_emea_webinar_data-day"
    assert check_name(SPEC, name) == []


def test_generate_lists_every_problem_with_a_suggestion() -> None:
    with pytest.raises(ValidationFailed) as exc:
        generate_name(SPEC, {"year": "26", "region": "Emea", "channel": "webinars", "colour": "red"})
    message = exc.value.message
    assert "colour: not a field" in message
    assert "topic: missing" in message
    assert "year: '26' does not match" in message
    assert "'emea'" in message  # suggested for Emea
    assert "did you mean 'webinar'" in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [("LinkedIn", "linkedin"), ("linked_in", "linkedin"), ("googl", "google"), ("google-ads", "google"),
     ("newsleter", "newsletter"), ("zzzz", None), ("", None)],
)  # fmt: skip
def test_closest_vocabulary_value(value: str, expected: str | None) -> None:
    assert closest(value, SPEC.utm.source) == expected


def test_check_name_wrong_part_count_suggests_other_separator() -> None:
    issues = check_name(SPEC, "2026-emea-webinar-dataday")
    assert len(issues) == 1
    assert "has 1 parts" in issues[0].message
    # a hyphen-separated name cannot be split back unambiguously when the topic has hyphens; this one can
    assert issues[0].suggestion == "2026_emea_webinar_dataday"


def test_check_name_flags_each_field_and_proposes_whole_name() -> None:
    issues = check_name(SPEC, "2026_EMEA_webinars_Data Day")
    fields = [i.field for i in issues]
    assert fields == ["name.region", "name.channel", "name.topic"]
    assert issues[0].suggestion == "emea"
    assert issues[1].suggestion == "webinar"
    assert issues[2].suggestion == "data-day"
    assert "whole name: 2026_emea_webinar_data-day" in issues[0].message


def test_check_utm() -> None:
    assert check_utm(SPEC, source="google", medium="cpc", campaign="2026_emea_webinar_data-day") == []
    issues = check_utm(SPEC, source="Google", medium="ppc", campaign=None, content="Hero Banner")
    by_field = {i.field: i for i in issues}
    assert by_field["utm_source"].suggestion == "google"
    assert by_field["utm_medium"].suggestion is None or by_field["utm_medium"].suggestion in SPEC.utm.medium
    assert by_field["utm_campaign"].message == "is missing"
    assert by_field["utm_content"].suggestion == "hero-banner"


def test_build_utm_url_keeps_other_params_and_replaces_old_tags() -> None:
    url = build_utm_url(SPEC, "https://example.com/p?ref=1&utm_source=old#top", source="linkedin",
                        medium="paid-social", campaign="2026_emea_webinar_data-day", content="v2")  # fmt: skip
    parts = urlsplit(url)
    q = parse_qs(parts.query)
    assert q == {"ref": ["1"], "utm_source": ["linkedin"], "utm_medium": ["paid-social"],
                 "utm_campaign": ["2026_emea_webinar_data-day"], "utm_content": ["v2"]}  # fmt: skip
    assert parts.fragment == "top"


def test_build_utm_url_refuses_bad_values_and_urls() -> None:
    with pytest.raises(ValidationFailed, match="did you mean 'linkedin'"):
        build_utm_url(SPEC, "https://example.com", source="LinkedIn", medium="cpc", campaign="2026_emea_email_x1")
    with pytest.raises(ValidationFailed, match="absolute http"):
        build_utm_url(SPEC, "example.com/x", source="google", medium="cpc", campaign="2026_emea_email_x1")


def test_config_rejects_bad_definitions() -> None:
    bad = {**DEFAULT, "naming": {**DEFAULT["naming"], "fields": [{"name": "x", "values": ["a"], "pattern": "a"}]}}
    with pytest.raises(ValidationError, match="either values or pattern"):
        CampaignOpsFile.model_validate(bad)
    board = {**DEFAULT["board"], "columns": [{"key": "a", "name": "A", "kind": "active"},
                                             {"key": "b", "name": "B", "kind": "done"}]}  # fmt: skip
    with pytest.raises(ValidationError, match="must be of kind queue"):
        CampaignOpsFile.model_validate({**DEFAULT, "board": board})
    with pytest.raises(ValidationError, match="Extra inputs"):
        CampaignOpsFile.model_validate({**DEFAULT, "boards": {}})
