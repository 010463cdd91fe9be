"""The routing flow as code: ``routing.yml`` (see docs/routing.md).

::

    routable: {field: lifecycle_stage, op: in, value: [mql, sal]}   # who gets routed (default: everyone)
    first_touch:
      events: [call_logged, sales_email_sent, meeting_booked]       # activities that count as a first touch
      stages: [sal, sql, opportunity, customer, disqualified]       # so do these lifecycle stage changes
    holidays:
      - {date: 2026-12-25, name: Christmas}                         # everyone
      - {date: 2026-10-03, name: German Unity Day, territories: [EMEA]}
    pools:
      - key: na-sdr
        mode: round_robin                 # or fewest_open
        members:
          - {user: ana@example.com, weight: 2}
          - {user: bo@example.com}
        caps: {hour: 5, day: 25, week: 100}
        fallback: lead@example.com        # when everyone is capped or away (else the lead is queued)
      - {key: emea, territory: EMEA, team: SDR}   # members: every active sales user of that territory and team
    rules:
      - name: existing-account
        to: account_owner
        sla: {first_touch: 4h}
      - name: north-america
        when: {field: country, op: in, value: [US, CA]}
        to: pool:na-sdr
        sla:
          first_touch: 1h
          steps:
            - {after: 45m, notify: owner}
            - {after: 1h, notify: manager}
            - {after: 2h, reroute: true}
      - {name: students, when: {field: email_domain, op: ends_with, value: .edu}, to: "queue:nurture"}
      - {name: vip, when: {field: account.employee_count, op: gte, value: 5000}, to: "user:cro@example.com"}
      - {name: territory, when: {field: region, op: is_set}, to: "territory:EMEA/AE"}
    rejection_reasons: [not_a_fit, no_budget, wrong_contact, duplicate, bad_data, competitor, student, other]
    escalation_channels: ["slack:sales-alerts"]    # SLA reminders go here too (configured notify endpoints)
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pitboard.conditions import Condition, FieldRegistry, SegmentCondition, validation_context
from pitboard.conditions.facts import walk
from pitboard.conditions.model import format_path
from pitboard.kit.errors import ValidationFailed

KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
DEFAULT_TOUCH_EVENTS = ("call_logged", "sales_email_sent", "meeting_booked", "meeting_held")
DEFAULT_TOUCH_STAGES = ("sal", "sql", "opportunity", "customer", "disqualified")
DEFAULT_REJECTION_REASONS = (
    "not_a_fit", "no_budget", "wrong_contact", "duplicate", "bad_data", "competitor", "student", "other",
)  # fmt: skip
_DURATION = re.compile(r"^(\d+)\s*(m|h|d)$")
_UNIT_MINUTES = {"m": 1, "h": 60, "d": 1440}


def parse_minutes(value: Any) -> int:
    """``30m``, ``1h``, ``2d`` (or a number of minutes) as minutes."""
    if isinstance(value, bool):
        raise ValueError("a duration is like 30m, 1h or 2d")
    if isinstance(value, int):
        minutes = value
    else:
        match = _DURATION.match(str(value).strip())
        if not match:
            raise ValueError(f"{value!r} is not a duration like 30m, 1h or 2d")
        minutes = int(match.group(1)) * _UNIT_MINUTES[match.group(2)]
    if minutes < 1:
        raise ValueError("a duration must be at least one minute")
    return minutes


def format_minutes(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MemberSpec(_Strict):
    user: str = Field(min_length=3, max_length=320, description="The sales user's email")
    weight: int = Field(default=1, ge=1, le=100, description="2 gets twice the share of 1")

    @field_validator("user")
    @classmethod
    def _email(cls, value: str) -> str:
        if "@" not in value:
            raise ValueError("name a sales user by email")
        return value.strip().lower()


class CapsSpec(_Strict):
    hour: int | None = Field(default=None, ge=1, description="Most leads per member in any 60 minutes")
    day: int | None = Field(default=None, ge=1, description="Most leads per member in any 24 hours")
    week: int | None = Field(default=None, ge=1, description="Most leads per member in any 7 days")

    def windows(self) -> list[tuple[str, int, timedelta]]:
        out = []
        for name, length in (("hour", timedelta(hours=1)), ("day", timedelta(days=1)), ("week", timedelta(days=7))):
            cap = getattr(self, name)
            if cap is not None:
                out.append((name, int(cap), length))
        return out


class PoolSpec(_Strict):
    key: str = Field(pattern=KEY_PATTERN, max_length=100)
    name: str | None = Field(default=None, max_length=200)
    mode: Literal["round_robin", "fewest_open"] = "round_robin"
    members: list[MemberSpec] = Field(default_factory=list)
    team: str | None = Field(default=None, max_length=100, description="Members: every active user of this team")
    territory: str | None = Field(default=None, max_length=100, description="... and/or of this territory")
    caps: CapsSpec = Field(default_factory=CapsSpec)
    respect_capacity: bool = Field(default=True, description="Skip members holding their capacity of open leads")
    working_hours: bool = Field(default=True, description="Only members within their working hours")
    fallback: str | None = Field(default=None, description="Owner when every member is capped or away")

    @model_validator(mode="after")
    def _members(self) -> PoolSpec:
        if self.members and (self.team or self.territory):
            raise ValueError("list members, or select them by team/territory, not both")
        if not self.members and not (self.team or self.territory):
            raise ValueError("a pool needs members, or a team and/or territory to take them from")
        emails = [m.user for m in self.members]
        dupes = sorted({e for e in emails if emails.count(e) > 1})
        if dupes:
            raise ValueError(f"members listed twice: {', '.join(dupes)}")
        return self

    @field_validator("fallback")
    @classmethod
    def _fallback(cls, value: str | None) -> str | None:
        if value is not None and "@" not in value:
            raise ValueError("name the fallback owner by email")
        return None if value is None else value.strip().lower()


class SlaStep(_Strict):
    after: int = Field(description="Time since routing: 30m, 1h, 2d")
    notify: Literal["owner", "manager"] | None = None
    reroute: bool = False

    @field_validator("after", mode="before")
    @classmethod
    def _after(cls, value: Any) -> int:
        return parse_minutes(value)

    @model_validator(mode="after")
    def _does_something(self) -> SlaStep:
        if self.notify is None and not self.reroute:
            raise ValueError("a step notifies owner or manager, or reroutes")
        return self


class SlaSpec(_Strict):
    first_touch: int = Field(description="Time to first touch: 15m, 1h, 1d")
    steps: list[SlaStep] | None = Field(
        default=None, description="Escalation; default: remind the owner at the deadline, the manager at twice it"
    )

    @field_validator("first_touch", mode="before")
    @classmethod
    def _first_touch(cls, value: Any) -> int:
        return parse_minutes(value)

    def effective_steps(self) -> list[SlaStep]:
        if self.steps is not None:
            return sorted(self.steps, key=lambda s: s.after)
        return [SlaStep(after=self.first_touch, notify="owner"), SlaStep(after=2 * self.first_touch, notify="manager")]


ActionKind = Literal["account_owner", "pool", "user", "queue", "territory"]


class RuleSpec(_Strict):
    name: str = Field(pattern=KEY_PATTERN, max_length=100)
    description: str | None = None
    when: Condition | None = Field(default=None, description="Leads this rule takes; every lead when left out")
    to: str = Field(description="account_owner, pool:<key>, user:<email>, queue:<name> or territory:<T>[/<team>]")
    sla: SlaSpec | None = None

    @field_validator("to")
    @classmethod
    def _to(cls, value: str) -> str:
        parse_action(value)
        return value.strip()

    @model_validator(mode="after")
    def _no_segments(self) -> RuleSpec:
        if self.when is not None and any(isinstance(n, SegmentCondition) for n in walk(self.when)):
            raise ValueError("routing rules cannot use in_segment: segments are refreshed after routing")
        return self

    @property
    def action(self) -> tuple[ActionKind, str]:
        return parse_action(self.to)


def parse_action(value: str) -> tuple[ActionKind, str]:
    text = value.strip()
    if text == "account_owner":
        return "account_owner", ""
    kind, _, arg = text.partition(":")
    arg = arg.strip()
    if kind not in ("pool", "user", "queue", "territory") or not arg:
        raise ValueError(
            f"{value!r}: send leads to account_owner, pool:<key>, user:<email>, queue:<name> or territory:<T>[/<team>]"
        )
    if kind == "user":
        if "@" not in arg:
            raise ValueError(f"{value!r}: name the user by email")
        arg = arg.lower()
    if kind == "queue" and not re.match(KEY_PATTERN, arg):
        raise ValueError(f"{value!r}: a queue name is lower case letters, digits, - and _")
    return kind, arg  # type: ignore[return-value]


def territory_pool_key(arg: str) -> str:
    territory, _, team = arg.partition("/")
    return f"territory:{territory.strip()}" + (f"/{team.strip()}" if team.strip() else "")


class HolidaySpec(_Strict):
    date: date
    name: str = Field(default="holiday", max_length=100)
    territories: list[str] | None = Field(default=None, description="Only sales users of these territories")


class FirstTouchSpec(_Strict):
    events: list[str] = Field(default_factory=lambda: list(DEFAULT_TOUCH_EVENTS))
    stages: list[str] = Field(default_factory=lambda: list(DEFAULT_TOUCH_STAGES))


class RoutingFile(_Strict):
    routable: Condition | None = Field(default=None, description="Which contacts are routed (default: all)")
    first_touch: FirstTouchSpec = Field(default_factory=FirstTouchSpec)
    holidays: list[HolidaySpec] = Field(default_factory=list)
    pools: list[PoolSpec] = Field(default_factory=list)
    rules: list[RuleSpec] = Field(min_length=1)
    rejection_reasons: list[str] = Field(default_factory=lambda: list(DEFAULT_REJECTION_REASONS), min_length=1)
    escalation_channels: list[str] = Field(
        default_factory=list, description="Also send SLA reminders and escalations here: slack:<key>, webhook:<key>"
    )

    @field_validator("escalation_channels")
    @classmethod
    def _channels(cls, value: list[str]) -> list[str]:
        for channel in value:
            kind, sep, target = channel.partition(":")
            if not sep or kind not in ("email", "slack", "webhook") or not target.strip():
                raise ValueError(f"{channel!r}: use email:<address>, slack:<key> or webhook:<key>")
        return value

    @model_validator(mode="after")
    def _references(self) -> RoutingFile:
        keys = [p.key for p in self.pools]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"pool keys used twice: {', '.join(dupes)}")
        names = [r.name for r in self.rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"rule names used twice: {', '.join(dupes)}")
        for rule in self.rules:
            kind, arg = rule.action
            if kind == "pool" and arg not in keys:
                raise ValueError(f"rule {rule.name}: no pool {arg!r} (pools: {', '.join(keys) or 'none'})")
        if self.routable is not None and any(isinstance(n, SegmentCondition) for n in walk(self.routable)):
            raise ValueError("routable cannot use in_segment: segments are refreshed after routing")
        return self

    def pool(self, key: str) -> PoolSpec:
        """A declared pool, or the implicit pool of a ``territory:`` action."""
        for pool in self.pools:
            if pool.key == key:
                return pool
        if key.startswith("territory:"):
            territory, _, team = key.removeprefix("territory:").partition("/")
            return PoolSpec(key="territory", name=key, territory=territory, team=team or None)
        raise KeyError(key)

    def all_pool_keys(self) -> list[str]:
        keys = [p.key for p in self.pools]
        for rule in self.rules:
            kind, arg = rule.action
            if kind == "territory":
                key = territory_pool_key(arg)
                if key not in keys:
                    keys.append(key)
        return keys

    def rule_pool_key(self, rule: RuleSpec) -> str | None:
        kind, arg = rule.action
        if kind == "pool":
            return arg
        if kind == "territory":
            return territory_pool_key(arg)
        return None


class FlowInvalid(ValidationFailed):
    pass


def validate_flow(data: Any, registry: FieldRegistry) -> RoutingFile:
    """Validate plain data (from the API or a stored manifest) against today's fields."""
    try:
        return RoutingFile.model_validate(data, context=validation_context(registry))
    except ValidationError as exc:
        problems = [f"{format_path(tuple(e['loc']))}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()]
        raise FlowInvalid("; ".join(problems), details=problems) from exc
