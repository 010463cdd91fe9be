"""The project's ``metrics.yml``: settings, custom metrics, alerts and scheduled reports (validated here, with
file:line errors from the project loader)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pitboard.kit.errors import ValidationFailed
from pitboard.measurement.attribution import MODELS
from pitboard.measurement.registry import STANDARD_KEYS, UNITS, parse_formula

KEY = r"^[a-z][a-z0-9_]{0,99}$"
NOTIFY = re.compile(r"^(email:[^@\s]+@[^@\s]+\.[^@\s]+|slack:[A-Za-z0-9_.-]+|webhook:[A-Za-z0-9_.-]+)$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DASHBOARDS = ("executive", "campaign", "funnel", "quality")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SettingsSpec(_Strict):
    sla_hours: float = Field(default=48, gt=0, le=24 * 90, description="MQL to SAL within this many hours")
    sales_touch_events: list[str] = Field(default_factory=lambda: ["meeting_booked"])
    attribution_model: str = Field(default="w_shaped", description="The model reports use unless told otherwise")
    lookback_days: int = Field(default=90, ge=1, le=730, description="Touches older than this are not credited")
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    exchange_rates: dict[str, float] = Field(
        default_factory=dict,
        description="Units of the reporting currency per unit of another, e.g. {EUR: 1.08}; amounts in a currency "
        "without a rate are left out of money metrics",
    )
    account_journeys: bool = Field(
        default=True, description="Attribution reads the touches of every contact at the account, not only the deal's"
    )

    @field_validator("exchange_rates")
    @classmethod
    def _rates(cls, v: dict[str, float]) -> dict[str, float]:
        for code, rate in v.items():
            if not re.fullmatch(r"[A-Z]{3}", code):
                raise ValueError(f"{code!r} is not a currency code (three capital letters, e.g. EUR)")
            if not rate > 0:
                raise ValueError(f"the rate of {code} must be above 0")
        return v

    @field_validator("attribution_model")
    @classmethod
    def _model(cls, v: str) -> str:
        if v not in MODELS or v == "custom":
            raise ValueError(f"unknown attribution model {v!r}; known: {', '.join(m for m in MODELS if m != 'custom')}")
        return v


class MetricSpec(_Strict):
    key: str = Field(pattern=KEY)
    label: str | None = Field(default=None, max_length=200)
    unit: str = "count"
    owner: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    definition: str | None = Field(default=None, max_length=2000)
    higher_is_better: bool = True
    formula: str | None = Field(default=None, max_length=1000, description="Arithmetic over other metric keys")
    event: str | None = Field(default=None, max_length=200, description="Count events with this name")
    channel: str | None = Field(default=None, max_length=50, description="With event: only in this channel")
    stage: str | None = Field(default=None, max_length=50, description="Count entries into this stage")

    @field_validator("unit")
    @classmethod
    def _unit(cls, v: str) -> str:
        if v not in UNITS:
            raise ValueError(f"unit must be one of {', '.join(UNITS)}")
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> MetricSpec:
        kinds = [k for k in ("formula", "event", "stage") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError("a metric needs exactly one of formula, event or stage")
        if self.channel and not self.event:
            raise ValueError("channel only narrows an event metric")
        if self.key in STANDARD_KEYS:
            raise ValueError(f"{self.key} is a standard metric; pick another key")
        if self.formula:
            try:
                parse_formula(self.formula)
            except ValidationFailed as exc:
                raise ValueError(exc.message) from exc
        return self


class AlertSpec(_Strict):
    key: str = Field(pattern=KEY)
    name: str | None = Field(default=None, max_length=200)
    metric: str
    kind: Literal["threshold", "anomaly"]
    above: float | None = Field(default=None, description="threshold: fire when the value is above this")
    below: float | None = Field(default=None, description="threshold: fire when the value is below this")
    direction: Literal["above", "below", "both"] = Field(default="both", description="anomaly: which side fires")
    sensitivity: float = Field(default=3.5, gt=0, le=20, description="anomaly: robust z-score to exceed")
    baseline_weeks: int = Field(default=8, ge=3, le=52, description="anomaly: same weekdays looked back on")
    min_change: float = Field(default=0, ge=0, description="anomaly: ignore smaller absolute changes")
    grain: Literal["day", "week"] = "day"
    notify: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("notify")
    @classmethod
    def _notify(cls, v: list[str]) -> list[str]:
        for target in v:
            if not NOTIFY.match(target):
                raise ValueError(f"{target!r}: notify targets are email:ADDRESS, slack:KEY or webhook:KEY")
        return v

    @model_validator(mode="after")
    def _thresholds(self) -> AlertSpec:
        if self.kind == "threshold" and self.above is None and self.below is None:
            raise ValueError("a threshold alert needs above, below or both")
        if self.kind == "anomaly" and (self.above is not None or self.below is not None):
            raise ValueError("above/below are for threshold alerts; anomaly alerts use direction and sensitivity")
        return self


class ReportSpec(_Strict):
    key: str = Field(pattern=KEY)
    name: str | None = Field(default=None, max_length=200)
    dashboard: Literal["executive", "campaign", "funnel", "quality"]
    every: Literal["daily", "weekly", "monthly"] = "weekly"
    recipients: list[str] = Field(min_length=1, max_length=50)
    audience: Literal["team", "leadership"] = Field(
        default="team", description="leadership reports wait for a person to approve the draft"
    )

    @field_validator("recipients")
    @classmethod
    def _emails(cls, v: list[str]) -> list[str]:
        for address in v:
            if not EMAIL.match(address):
                raise ValueError(f"{address!r} is not an email address")
        return v


class MetricsFile(_Strict):
    settings: SettingsSpec = Field(default_factory=SettingsSpec)
    metrics: list[MetricSpec] = Field(default_factory=list)
    alerts: list[AlertSpec] = Field(default_factory=list)
    reports: list[ReportSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> MetricsFile:
        for kind, items in (("metric", self.metrics), ("alert", self.alerts), ("report", self.reports)):
            seen: set[str] = set()
            for item in items:
                if item.key in seen:
                    raise ValueError(f"{kind} key {item.key!r} is used twice")
                seen.add(item.key)
        known = set(STANDARD_KEYS) | {m.key for m in self.metrics}
        graph: dict[str, set[str]] = {}
        for m in self.metrics:
            if m.formula:
                names = parse_formula(m.formula)[1]
                unknown = sorted(names - known)
                if unknown:
                    raise ValueError(f"metric {m.key}: unknown metric(s) in formula: {', '.join(unknown)}")
                graph[m.key] = names
        _no_cycles(graph)
        for a in self.alerts:
            if a.metric not in known:
                raise ValueError(f"alert {a.key}: unknown metric {a.metric!r}")
        return self


def _no_cycles(graph: dict[str, set[str]]) -> None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            raise ValueError(f"metric formulas refer to each other in a circle: {' -> '.join([*path, node])}")
        state[node] = 1
        for dep in graph.get(node, ()):
            visit(dep, [*path, node])
        state[node] = 2

    for node in graph:
        visit(node, [])


def _register_schema() -> None:
    """``pitboard schema`` writes a JSON Schema of metrics.yml for editors (import here: no cycle)."""
    from pitboard.project.schemas_export import register_file_schema

    register_file_schema("metrics", MetricsFile.model_json_schema)


_register_schema()
