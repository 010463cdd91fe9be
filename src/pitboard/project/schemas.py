"""The shapes of the project files. Extra keys are errors: a typo must never be silently ignored."""

from __future__ import annotations

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


class Stage(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    description: str | None = None


class LifecycleFile(_Strict):
    """``lifecycle.yml``: the stage ladder, in funnel order, plus the stages off the ladder."""

    stages: list[Stage] = Field(min_length=1)
    off_ladder: list[Stage] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> LifecycleFile:
        names = [s.name for s in (*self.stages, *self.off_ladder)]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"stage names must be unique; repeated: {', '.join(dupes)}")
        return self
