"""The shapes of the project files. Extra keys are errors: a typo must never be silently ignored."""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectFile(_Strict):
    """``pitboard.yml``: what this project is and the defaults every report uses."""

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str | None = None
    timezone: str = "UTC"
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    fiscal_year_start_month: int = Field(default=1, ge=1, le=12)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)") from exc
        return value


class Purpose(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=1)
    description: str | None = None
    channels: list[Literal["email", "sms", "phone"]] = Field(min_length=1)
    regime: Literal["opt_in", "opt_out"] = "opt_in"
    double_opt_in: bool = False
    consent_text: str | None = Field(default=None, description="The wording shown when consent is asked")

    @model_validator(mode="after")
    def _double_opt_in_needs_email(self) -> Purpose:
        if self.double_opt_in and "email" not in self.channels:
            raise ValueError("double opt-in is confirmed by email: add the email channel or turn it off")
        if self.regime == "opt_in" and not self.consent_text:
            raise ValueError("an opt-in purpose needs consent_text: the wording people agree to (GDPR Art. 7(1))")
        return self


class Retention(_Strict):
    inactive_contact_days: int | None = Field(default=None, ge=30, description="Erase contacts inactive this long")
    exclude_lifecycle_stages: list[str] = Field(default_factory=lambda: ["customer", "opportunity"])
    quarantine_days: int | None = Field(default=90, ge=1)
    message_body_days: int | None = Field(default=365, ge=1)


class PrivacyFile(_Strict):
    """``privacy.yml``: consent purposes, the privacy-policy version shown to people, the retention policy."""

    policy_version: str | None = Field(default=None, max_length=50)
    purposes: list[Purpose] = Field(min_length=1)
    retention: Retention = Field(default_factory=Retention)

    @model_validator(mode="after")
    def _unique(self) -> PrivacyFile:
        keys = [p.key for p in self.purposes]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"purpose keys must be unique; repeated: {', '.join(dupes)}")
        return self
