"""Measurement definitions applied from ``metrics.yml``, and alerts: checking, history, acknowledging.

Services validate, change rows, audit and flush; the caller commits.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.kit.actor import Actor
from pitboard.kit.errors import Conflict, NotFound, PitboardError, ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.measurement import registry
from pitboard.measurement.anomaly import robust_check, weekday_baseline, weekly_totals
from pitboard.measurement.registry import Period
from pitboard.measurement.schemas import AlertSpec, MetricsFile
from pitboard.models import SystemSetting
from pitboard.models.measurement import AlertEvent, AlertRule, MetricDefinition, ReportSchedule
from pitboard.settings import get_settings

PROJECT = "project"


def _checksum(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


# --- apply metrics.yml -----------------------------------------------------------------------------------


def apply_metrics_file(session: Session, spec: MetricsFile | None, *, actor: Actor) -> dict[str, list[str]]:
    """Make the stored settings, custom metrics, alert rules and report schedules equal to ``spec`` (no file:
    everything from the project is deactivated). Returns what changed, by kind."""
    actor.require("admin")
    changes: dict[str, list[str]] = {}
    if spec is not None:
        _apply_settings(session, spec.settings.model_dump(), actor, changes)
    spec = spec or MetricsFile()

    metric_defs = {m.key: m.model_dump(exclude_none=True) for m in spec.metrics}
    _sync(session, MetricDefinition, metric_defs, "metric", actor, changes,
          lambda key, d: {"definition": d})  # fmt: skip
    alert_defs = {a.key: a.model_dump() for a in spec.alerts}
    _sync(session, AlertRule, alert_defs, "alert", actor, changes,
          lambda key, d: {"name": d.get("name") or key, "metric": d["metric"], "kind": d["kind"],
                          "definition": d, "notify": d["notify"], "origin": PROJECT})  # fmt: skip
    report_defs = {r.key: r.model_dump() for r in spec.reports}
    _sync(session, ReportSchedule, report_defs, "report", actor, changes,
          lambda key, d: {"name": d.get("name") or key, "dashboard": d["dashboard"], "every": d["every"],
                          "recipients": d["recipients"], "audience": d["audience"], "definition": d,
                          "origin": PROJECT})  # fmt: skip
    session.flush()
    return changes


def _apply_settings(session: Session, settings: dict[str, Any], actor: Actor, changes: dict[str, list[str]]) -> None:
    row = session.get(SystemSetting, registry.SETTINGS_KEY)
    current = row.value if row is not None else registry.DEFAULT_SETTINGS
    if current == settings:
        return
    if row is None:
        session.add(SystemSetting(key=registry.SETTINGS_KEY, value=settings, updated_at=utcnow()))
    else:
        row.value, row.updated_at = settings, utcnow()
    audit.record(session, actor=actor, action="update", entity_type="measurement_settings",
                 entity_id=registry.SETTINGS_KEY, changes={"settings": [current, settings]})  # fmt: skip
    changes.setdefault("updated", []).append("settings")


def _sync(session: Session, model: Any, wanted: dict[str, dict[str, Any]], kind: str, actor: Actor,
          changes: dict[str, list[str]], fields: Any) -> None:  # fmt: skip
    rows = {r.key: r for r in session.scalars(select(model))}
    for key, definition in sorted(wanted.items()):
        checksum = _checksum(definition)
        values = {**fields(key, definition), "checksum": checksum, "active": True}
        row = rows.get(key)
        if row is None:
            row = model(key=key, **values)
            session.add(row)
            session.flush()
            audit.record(session, actor=actor, action="create", entity_type=kind, entity_id=key,
                         changes={"definition": [None, definition]})  # fmt: skip
            changes.setdefault("created", []).append(f"{kind} {key}")
        elif row.checksum != checksum or not row.active:
            before = row.definition if hasattr(row, "definition") else None
            for name, v in values.items():
                setattr(row, name, v)
            audit.record(session, actor=actor, action="update", entity_type=kind, entity_id=key,
                         changes={"definition": [before, definition]})  # fmt: skip
            changes.setdefault("updated", []).append(f"{kind} {key}")
    for key, row in sorted(rows.items()):
        if key not in wanted and row.active and getattr(row, "origin", PROJECT) == PROJECT:
            row.active = False
            audit.record(session, actor=actor, action="update", entity_type=kind, entity_id=key,
                         changes={"active": [True, False]})  # fmt: skip
            changes.setdefault("deactivated", []).append(f"{kind} {key}")


# --- alerts ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """What a rule concluded for one period (fired or not)."""

    rule: str
    metric: str
    period: Period
    value: float | None
    fired: bool
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None
    message: str = ""
    baseline: tuple[float, ...] = ()


def evaluate_rule(ctx: registry.Context, rule: AlertRule, day: date) -> Finding:
    """Check ``rule`` on the day ``day`` (grain day) or the week ending on ``day`` (grain week)."""
    spec = AlertSpec.model_validate(rule.definition)
    metric = registry.get(ctx, spec.metric)
    period = Period(day - timedelta(days=6), day) if spec.grain == "week" else Period(day, day)
    if spec.grain == "week" and day.weekday() != 6:
        # Weekly rules look at whole Monday-to-Sunday weeks: checked on the Sunday that ends one.
        return Finding(rule.key, spec.metric, period, None, False)
    if spec.kind == "threshold":
        v = registry.value(ctx, spec.metric, period)
        fired = v is not None and (
            (spec.above is not None and v > spec.above) or (spec.below is not None and v < spec.below)
        )
        bound = spec.above if spec.above is not None and v is not None and v > spec.above else spec.below
        side = "above" if spec.above is not None and v is not None and v > spec.above else "below"
        message = (f"{metric.label} was {registry.format_value(metric, v, _currency(ctx))} for {period.label()}, "
                   f"{side} the threshold of {bound:g}") if fired and bound is not None else ""  # fmt: skip
        return Finding(rule.key, spec.metric, period, v, fired, lower=spec.below, upper=spec.above, message=message)
    history = Period(day - timedelta(weeks=spec.baseline_weeks, days=6), day)
    days = registry.daily_values(ctx, spec.metric, history)
    if spec.grain == "week":
        current: float | None
        current, baseline = weekly_totals(days, period.start, spec.baseline_weeks)
    else:
        current, baseline = days.get(day), weekday_baseline(days, day, spec.baseline_weeks)
    if current is None:  # undefined on that day (a rate over nothing)
        return Finding(rule.key, spec.metric, period, None, False)
    verdict = robust_check(current, baseline, sensitivity=spec.sensitivity, direction=spec.direction,
                           min_change=spec.min_change)  # fmt: skip
    if verdict is None:
        return Finding(rule.key, spec.metric, period, current, False, message="not enough history yet")
    cur = _currency(ctx)

    def fmt(v: float | None) -> str:
        return registry.format_value(metric, v, cur)

    message = ""
    if verdict.anomalous:
        same = "the same weekday" if spec.grain == "day" else "the same week"
        message = (f"{metric.label} was {fmt(current)} for {period.label()}, {verdict.direction} the usual "
                   f"{fmt(verdict.expected)} (median of {same} over the last {len(verdict.baseline)} weeks; "
                   f"expected range {fmt(verdict.lower)} to {fmt(verdict.upper)})")  # fmt: skip
    return Finding(rule.key, spec.metric, period, current, verdict.anomalous, verdict.expected, verdict.lower,
                   verdict.upper, message, verdict.baseline)  # fmt: skip


def _currency(ctx: registry.Context) -> str:
    return str(ctx.settings.get("currency") or "USD")


def check_alerts(session: Session, *, day: date | None = None, keys: list[str] | None = None) -> list[AlertEvent]:
    """Check active rules for ``day`` (default: yesterday, the last whole day) and record and notify what fires.
    A rule fires at most once per period: checking again returns nothing new and notifies nobody twice."""
    day = day or (utcnow().date() - timedelta(days=1))
    ctx = registry.context(session)
    stmt = select(AlertRule).where(AlertRule.active.is_(True)).order_by(AlertRule.key)
    if keys:
        stmt = select(AlertRule).where(AlertRule.key.in_(keys)).order_by(AlertRule.key)
    fired: list[AlertEvent] = []
    for rule in session.scalars(stmt):
        finding = evaluate_rule(ctx, rule, day)
        rule.last_checked_at = utcnow()
        if not finding.fired:
            continue
        exists = session.scalar(
            select(AlertEvent.id).where(AlertEvent.rule_id == rule.id, AlertEvent.period_start == finding.period.start)
        )
        if exists is not None:
            continue
        event = AlertEvent(
            rule_id=rule.id, metric=finding.metric, period_start=finding.period.start,
            period_end=finding.period.end, value=finding.value, expected=finding.expected, lower=finding.lower,
            upper=finding.upper, message=finding.message,
            context={"rule": rule.key, "kind": rule.kind, "baseline": list(finding.baseline)},
            status="open", fired_at=utcnow(), notified=[],
        )  # fmt: skip
        session.add(event)
        session.flush()
        event.notified = _notify(session, rule, event)
        fired.append(event)
    session.flush()
    return fired


def _notify(session: Session, rule: AlertRule, event: AlertEvent) -> list[str]:
    """Tell each target; a target that fails is recorded with its reason and does not stop the others."""
    link = f"{get_settings().base_url.rstrip('/')}/reports/alerts/{event.id}"
    subject = f"[pitboard alert] {rule.name}: {event.metric} for {event.period_start.isoformat()}"
    facts = {"metric": event.metric, "period": f"{event.period_start} to {event.period_end}",
             "value": "n/a" if event.value is None else f"{event.value:g}"}  # fmt: skip
    if event.expected is not None:
        facts["expected"] = f"{event.expected:g}"
    done: list[str] = []
    for target in rule.notify:
        try:
            with session.begin_nested():
                _send(session, target, subject=subject, text=event.message, link=link, facts=facts,
                      key=f"alert:{event.id}:{target}")  # fmt: skip
            done.append(target)
        except PitboardError as exc:
            done.append(f"{target} (failed: {exc.message})")
    return done


def _send(session: Session, target: str, *, subject: str, text: str, link: str, facts: dict[str, str],
          key: str) -> None:  # fmt: skip
    from pitboard.notify import notify

    notify(session, to=target, subject=subject, text=text, link=link, facts=facts, idempotency_key=key)


def list_alert_events(session: Session, *, status: str | None = None, limit: int = 100) -> list[AlertEvent]:
    if status not in (None, "open", "acknowledged"):
        raise ValidationFailed("status must be open or acknowledged")
    stmt = select(AlertEvent).order_by(AlertEvent.fired_at.desc(), AlertEvent.id.desc()).limit(max(1, min(limit, 1000)))
    if status:
        stmt = stmt.where(AlertEvent.status == status)
    return list(session.scalars(stmt))


def get_alert_event(session: Session, event_id: int) -> AlertEvent:
    event = session.get(AlertEvent, event_id)
    if event is None:
        raise NotFound(f"no alert {event_id}")
    return event


def acknowledge(session: Session, event_id: int, *, actor: Actor, note: str | None = None) -> AlertEvent:
    """Mark an alert as seen (editors and admins). Acknowledging twice is a conflict, not a silent no-op."""
    actor.require("editor")
    event = get_alert_event(session, event_id)
    if event.status == "acknowledged":
        raise Conflict(f"alert {event_id} was already acknowledged by {event.acknowledged_by}")
    event.status = "acknowledged"
    event.acknowledged_by = actor.name
    event.acknowledged_at = utcnow()
    event.note = (note or "").strip()[:2000] or None
    audit.record(session, actor=actor, action="update", entity_type="alert_event", entity_id=event.id,
                 changes={"status": ["open", "acknowledged"]})  # fmt: skip
    session.flush()
    return event


def alert_rules(session: Session) -> list[AlertRule]:
    return list(session.scalars(select(AlertRule).order_by(AlertRule.active.desc(), AlertRule.key)))


def rule_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(AlertRule.id, AlertRule.name)).all())


def when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "never"
