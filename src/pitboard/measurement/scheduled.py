"""Scheduled reports by email, with a narrative drafted from the numbers.

Charts in email: email clients do not run scripts and most do not render SVG (Gmail and Outlook drop it), and
pitboard has no SVG-to-PNG renderer. Charts are therefore drawn as **HTML table bar charts**: one row per
bar, a cell whose width is the value's share and whose background is the series colour. Tables with widths
and ``bgcolor`` render in Gmail, Outlook (Word engine), Apple Mail and text-only clients get the numbers in
the plain-text part. No external images: nothing to block, nothing that tracks opens.

Team reports are sent as soon as they are made. Leadership reports are stored as a **draft** with the
narrative marked "DRAFT - needs human review" and wait for an editor to approve (and send) or reject them.
Each schedule makes one run per period and each recipient gets one message per run (idempotency keys), so a
retried job or a second approval never sends twice.
"""

from __future__ import annotations

from datetime import date
from html import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.kit.actor import Actor
from pitboard.kit.errors import Conflict, NotFound
from pitboard.kit.time import utcnow
from pitboard.measurement import registry
from pitboard.measurement.reports import DRAFT_MARK, Report, build, narrative, previous_period
from pitboard.models.measurement import ReportRun, ReportSchedule
from pitboard.settings import get_settings
from pitboard.web.charts import PALETTE

TITLES = {"executive": "Executive summary", "campaign": "Campaign performance", "funnel": "Funnel",
          "quality": "Data quality"}  # fmt: skip


def get_schedule(session: Session, key: str) -> ReportSchedule:
    row = session.scalar(select(ReportSchedule).where(ReportSchedule.key == key))
    if row is None:
        raise NotFound(f"no scheduled report {key!r}")
    return row


def get_run(session: Session, run_id: int) -> ReportRun:
    run = session.get(ReportRun, run_id)
    if run is None:
        raise NotFound(f"no report run {run_id}")
    return run


def list_runs(session: Session, *, status: str | None = None, limit: int = 100) -> list[ReportRun]:
    stmt = select(ReportRun).order_by(ReportRun.created_at.desc(), ReportRun.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(ReportRun.status == status)
    return list(session.scalars(stmt))


def run_schedule(session: Session, schedule: ReportSchedule, *, today: date | None = None) -> ReportRun:
    """Make (or return) this schedule's run for the last whole period; a team report is sent at once."""
    period = previous_period(schedule.every, today or utcnow().date())
    existing = session.scalar(
        select(ReportRun).where(ReportRun.schedule_id == schedule.id, ReportRun.period_start == period.start)
    )
    if existing is not None:
        return existing
    ctx = registry.context(session)
    report = build(ctx, schedule.dashboard, period)
    currency = str(ctx.settings.get("currency") or "USD")
    story = narrative(report, currency)
    subject = f"{TITLES[schedule.dashboard]}: {period.label()}"
    run = ReportRun(
        schedule_id=schedule.id, period_start=period.start, period_end=period.end, status="draft",
        subject=subject[:300], narrative=story, html=render_html(report, story, schedule.name),
        text=render_text(report, story, schedule.name), figures=figures(report), created_at=utcnow(),
        message_ids=[], attempts=0,
    )  # fmt: skip
    session.add(run)
    session.flush()
    schedule.last_run_at = utcnow()
    if schedule.audience == "team":
        _send(session, schedule, run)
    return run


def due_schedules(session: Session, today: date) -> list[ReportSchedule]:
    """Active schedules whose last whole period has no run yet."""
    out = []
    for schedule in session.scalars(select(ReportSchedule).where(ReportSchedule.active.is_(True))):
        period = previous_period(schedule.every, today)
        done = session.scalar(
            select(ReportRun.id).where(ReportRun.schedule_id == schedule.id, ReportRun.period_start == period.start)
        )
        if done is None:
            out.append(schedule)
    return out


def approve(session: Session, run_id: int, *, actor: Actor) -> ReportRun:
    """A person has read the draft: send it (editors and admins)."""
    actor.require("editor")
    run = get_run(session, run_id)
    if run.status != "draft":
        raise Conflict(f"report {run_id} is {run.status}, not a draft waiting for review")
    schedule = session.get(ReportSchedule, run.schedule_id)
    assert schedule is not None
    run.reviewed_by, run.reviewed_at = actor.name, utcnow()
    audit.record(session, actor=actor, action="update", entity_type="report_run", entity_id=run.id,
                 changes={"status": ["draft", "approved"]})  # fmt: skip
    _send(session, schedule, run)
    return run


def reject(session: Session, run_id: int, *, actor: Actor) -> ReportRun:
    actor.require("editor")
    run = get_run(session, run_id)
    if run.status != "draft":
        raise Conflict(f"report {run_id} is {run.status}, not a draft waiting for review")
    run.status, run.reviewed_by, run.reviewed_at = "rejected", actor.name, utcnow()
    audit.record(session, actor=actor, action="update", entity_type="report_run", entity_id=run.id,
                 changes={"status": ["draft", "rejected"]})  # fmt: skip
    session.flush()
    return run


def _send(session: Session, schedule: ReportSchedule, run: ReportRun) -> None:
    from pitboard.messaging.outbox import enqueue_email

    ids = []
    # Once reviewed, the draft mark has done its job; the text a person approved is what is sent.
    html = run.html.replace(DRAFT_MARK, "Reviewed") if run.reviewed_by else run.html
    text = run.text.replace(DRAFT_MARK, "Reviewed") if run.reviewed_by else run.text
    for address in schedule.recipients:
        message = enqueue_email(
            session, contact_id=None, to_address=address, kind="transactional", purpose=None, template=None,
            subject=run.subject, text=text, html=html, idempotency_key=f"report:{run.id}:{address.lower()}",
        )  # fmt: skip
        ids.append(message.id)
    run.message_ids = ids
    run.status = "sent"
    run.sent_at = utcnow()
    run.attempts += 1
    session.flush()


# --- rendering -------------------------------------------------------------------------------------------


def figures(report: Report) -> dict[str, object]:
    return {
        "period": [report.period.start.isoformat(), report.period.end.isoformat()],
        "kpis": {k.key: k.value for k in report.kpis},
        "previous": {k.key: k.previous for k in report.kpis},
        "model": report.model,
    }


def _bars_html(title: str, labels: list[str], values: list[float], color: str, fmt: str = "{:,.0f}") -> str:
    """A bar chart as an HTML table: renders in every mail client, no images needed."""
    top = max(values, default=0) or 1
    rows = []
    for label, v in zip(labels, values, strict=True):
        pct = max(1, round(v / top * 100)) if v > 0 else 0
        bar = (f'<table role="presentation" width="{pct}%" cellpadding="0" cellspacing="0"><tr>'
               f'<td bgcolor="{color}" style="background:{color};height:14px;font-size:0;line-height:0">&nbsp;</td>'
               "</tr></table>") if pct else ""  # fmt: skip
        rows.append(f'<tr><td style="padding:2px 8px 2px 0;white-space:nowrap">{escape(label)}</td>'
                    f'<td width="100%" style="padding:2px 0">{bar}</td>'
                    f'<td style="padding:2px 0 2px 8px;text-align:right;white-space:nowrap">'
                    f"{fmt.format(v)}</td></tr>")  # fmt: skip
    return (f'<h3 style="font-size:15px;margin:20px 0 6px">{escape(title)}</h3>'
            f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
            f'style="font-size:13px">{"".join(rows)}</table>')  # fmt: skip


def render_html(report: Report, story: str, name: str) -> str:
    kpi_cells = "".join(
        f'<td style="padding:8px;border:1px solid #ddd"><div style="color:#555;font-size:12px">{escape(k.label)}</div>'
        f'<div style="font-size:18px;font-weight:bold" data-metric="{escape(k.key)}">{escape(k.text)}</div></td>'
        for k in report.kpis[:8]
    )
    paragraphs = "".join(f"<p style='margin:2px 0'>{escape(line)}</p>" for line in story.splitlines())
    charts = []
    for i, t in enumerate(report.trends):
        for j, (series, values) in enumerate(t.series.items()):
            charts.append(_bars_html(f"{t.title}: {series}" if len(t.series) > 1 else t.title, t.labels, values,
                                     PALETTE[(i + j) % len(PALETTE)]))  # fmt: skip
    table = report.tables.get("by_channel") or report.tables.get("roi")
    if table is not None and table.rows:
        col = 1 if "by_channel" in report.tables else 4
        top = sorted(table.rows, key=lambda r: -(r[col] or 0))[:8]
        charts.append(_bars_html("Pipeline by " + ("channel" if col == 1 else "campaign"), [str(r[0]) for r in top],
                                 [float(r[col] or 0) for r in top], PALETTE[2]))  # fmt: skip
    link = f"{get_settings().base_url.rstrip('/')}/reports/{report.dashboard}"
    return (
        '<div style="font-family:Arial,Helvetica,sans-serif;color:#222;max-width:640px">'
        f'<h2 style="font-size:20px">{escape(name)}: {escape(report.period.label())}</h2>'
        f'<div style="background:#fff8e1;border:1px solid #f0c36d;padding:8px;margin:8px 0">{paragraphs}</div>'
        f'<table role="presentation" cellpadding="0" cellspacing="0" style="border-collapse:collapse">'
        f"<tr>{kpi_cells}</tr></table>{''.join(charts)}"
        f'<p style="font-size:12px;color:#555;margin-top:20px">The full dashboard: <a href="{escape(link)}">'
        f"{escape(link)}</a></p></div>"
    )


def render_text(report: Report, story: str, name: str) -> str:
    lines = [f"{name}: {report.period.label()}", "", story, ""]
    lines += [f"{k.label}: {k.text}" for k in report.kpis]
    link = f"{get_settings().base_url.rstrip('/')}/reports/{report.dashboard}"
    return "\n".join([*lines, "", f"The full dashboard: {link}"])
