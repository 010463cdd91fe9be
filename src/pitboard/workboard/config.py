"""``campaign_ops.yml``: naming conventions, launch checklists, approval chains and the board, as code.

Pure pydantic (``extra="forbid"``: a typo is an error with its line, never ignored). Everything has a built-in
default, so a project without the file still gets a sensible board, checklist and naming convention.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

KEY = r"^[a-z][a-z0-9_]*$"
ColumnKind = Literal["queue", "active", "wait", "done"]
CheckKind = Literal["manual", "utm", "audience"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NamingField(_Strict):
    """One part of a name: a closed vocabulary (``values``) or a pattern (``pattern``), not both."""

    name: str = Field(pattern=KEY)
    values: list[str] | None = None
    pattern: str | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _one_rule(self) -> NamingField:
        if (self.values is None) == (self.pattern is None):
            raise ValueError(f"field {self.name}: give either values or pattern")
        if self.values is not None and not self.values:
            raise ValueError(f"field {self.name}: values is empty")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"field {self.name}: pattern does not compile: {exc}") from exc
        return self


class UtmRules(_Strict):
    source: list[str] = Field(min_length=1)
    medium: list[str] = Field(min_length=1)
    campaign_follows_naming: bool = True
    content_pattern: str | None = r"^[a-z0-9][a-z0-9_\-]*$"
    term_pattern: str | None = None


class NamingSpec(_Strict):
    separator: str = Field(default="_", min_length=1, max_length=3)
    case: Literal["lower", "upper", "any"] = "lower"
    fields: list[NamingField] = Field(min_length=1)
    utm: UtmRules

    @field_validator("fields")
    @classmethod
    def _unique(cls, fields: list[NamingField]) -> list[NamingField]:
        names = [f.name for f in fields]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"field names repeat: {', '.join(dup)}")
        return fields


class ChecklistEntry(_Strict):
    key: str = Field(pattern=KEY, max_length=50)
    label: str = Field(min_length=1, max_length=200)
    blocking: bool = True
    check: CheckKind = "manual"


class ApprovalStage(_Strict):
    stage: str = Field(min_length=1, max_length=100)
    approvers: list[str] = Field(min_length=1, description="Email addresses of who decide")
    reviewers: list[str] = Field(default_factory=list, description="Email addresses of who comment")
    sla_hours: int = Field(default=48, ge=1, le=24 * 60)

    @field_validator("approvers", "reviewers")
    @classmethod
    def _emails(cls, values: list[str]) -> list[str]:
        for v in values:
            if "@" not in v or v.strip() != v:
                raise ValueError(f"{v!r} is not an email address")
        return [v.lower() for v in values]


class BoardColumn(_Strict):
    key: str = Field(pattern=KEY, max_length=50)
    name: str = Field(min_length=1, max_length=100)
    kind: ColumnKind = "active"
    wip_limit: int | None = Field(default=None, ge=1)


class ServiceTier(_Strict):
    name: str
    sla_hours: int | None = Field(default=None, ge=1, description="Hours from request to done; none: no SLA")


class BoardSpec(_Strict):
    columns: list[BoardColumn] = Field(min_length=2)
    tiers: dict[Literal["self_service", "standard", "project"], ServiceTier]

    @model_validator(mode="after")
    def _columns(self) -> BoardSpec:
        keys = [c.key for c in self.columns]
        if len(set(keys)) != len(keys):
            raise ValueError("column keys repeat")
        if self.columns[0].kind != "queue":
            raise ValueError(f"the first column ({keys[0]}) must be of kind queue: new requests land there")
        if not any(c.kind == "done" for c in self.columns):
            raise ValueError("one column must be of kind done")
        return self


class CampaignOpsFile(_Strict):
    """The whole ``campaign_ops.yml``. Checklists and approvals are per campaign type, with ``default``; a
    section left out is the built-in one (no approvals by default)."""

    naming: NamingSpec = Field(default_factory=lambda: NamingSpec.model_validate(DEFAULT["naming"]))
    checklists: dict[str, list[ChecklistEntry]] = Field(
        default_factory=lambda: {
            k: [ChecklistEntry.model_validate(e) for e in v] for k, v in DEFAULT["checklists"].items()
        }
    )
    approvals: dict[str, list[ApprovalStage]] = Field(default_factory=dict)
    board: BoardSpec = Field(default_factory=lambda: BoardSpec.model_validate(DEFAULT["board"]))

    @field_validator("checklists")
    @classmethod
    def _unique_items(cls, value: dict[str, list[ChecklistEntry]]) -> dict[str, list[ChecklistEntry]]:
        for ctype, items in value.items():
            keys = [i.key for i in items]
            if len(set(keys)) != len(keys):
                raise ValueError(f"checklist {ctype}: item keys repeat")
        return value

    def checklist_for(self, campaign_type: str) -> list[ChecklistEntry]:
        return self.checklists.get(campaign_type) or self.checklists.get("default") or []

    def approvals_for(self, campaign_type: str) -> list[ApprovalStage]:
        return self.approvals.get(campaign_type) or self.approvals.get("default") or []

    def column(self, key: str) -> BoardColumn | None:
        return next((c for c in self.board.columns if c.key == key), None)

    def checksum(self) -> str:
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


DEFAULT: dict[str, Any] = {
    "naming": {
        "separator": "_",
        "case": "lower",
        "fields": [
            {"name": "year", "pattern": r"^20\d\d$"},
            {"name": "region", "values": ["global", "amer", "emea", "apac", "dach", "uk"]},
            {
                "name": "channel",
                "values": [
                    "email",
                    "webinar",
                    "paid-search",
                    "paid-social",
                    "display",
                    "event",
                    "content",
                    "partner",
                    "other",
                ],
            },
            {"name": "topic", "pattern": r"^[a-z0-9][a-z0-9\-]{1,40}$"},
        ],
        "utm": {
            "source": ["google", "bing", "linkedin", "facebook", "twitter", "newsletter", "partner", "website"],
            "medium": ["cpc", "paid-social", "display", "email", "social", "referral", "event", "organic"],
        },
    },
    "checklists": {
        "default": [
            {"key": "creative_review", "label": "Creative review"},
            {"key": "legal", "label": "Legal / compliance sign-off"},
            {"key": "utm_verified", "label": "UTM tagging verified", "check": "utm"},
            {"key": "audience_qa", "label": "Audience QA: counts and consent", "check": "audience"},
            {"key": "tracking_test", "label": "Tracking test"},
            {"key": "monitoring", "label": "Post-launch monitoring planned", "blocking": False},
        ]
    },
    "approvals": {},
    "board": {
        "columns": [
            {"key": "requested", "name": "Requested", "kind": "queue"},
            {"key": "ready", "name": "Ready", "kind": "wait", "wip_limit": 20},
            {"key": "in_progress", "name": "In progress", "kind": "active", "wip_limit": 8},
            {"key": "review", "name": "In review", "kind": "wait", "wip_limit": 6},
            {"key": "done", "name": "Done", "kind": "done"},
        ],
        "tiers": {
            "self_service": {"name": "Self-service"},
            "standard": {"name": "Standard", "sla_hours": 120},
            "project": {"name": "Project"},
        },
    },
}


def default_spec() -> CampaignOpsFile:
    return CampaignOpsFile.model_validate(DEFAULT)
