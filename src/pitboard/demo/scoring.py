"""Demo data for lead scoring: a realistic scoring model, applied as a project version and scored in full,
so the scoring pages, the contact page's score breakdown and the API show real scores and explanations.

The model has no thresholds: the generated lifecycle history stays as generated. ``bench/bench_scoring.py``
measures the same model under its own key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import yaml
from sqlalchemy import Engine, func, select, update

from pitboard.conditions import load_field_registry
from pitboard.demo.common import store_project_file
from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import session_scope
from pitboard.kit.time import ensure_utc
from pitboard.models import Contact, ContactScore, Job

MODEL_KEY = "lead"
DEMO_SCORING = """
models:
  - key: lead
    name: Lead score
    description: Who they are (fit) and what they did lately (engagement, 30-day half-life)
    fit:
      cap: 50
      criteria:
        - {name: Decision maker, group: seniority, points: 15,
           condition: {field: seniority, op: in, value: [director, vp, c_level]}}
        - {name: Manager, group: seniority, points: 5, condition: {field: seniority, op: eq, value: manager}}
        - {name: Target function, points: 10,
           condition: {field: job_function, op: in, value: [marketing, sales, operations]}}
        - {name: Company 200+, group: company, points: 10,
           condition: {field: account.employee_count, op: gte, value: 200}}
        - {name: Target industry, group: company, points: 5,
           condition: {field: account.industry, op: in, value: [Software, Financial Services, Professional Services]}}
        - {name: Target country, points: 5, condition: {field: country, op: in, value: [US, CA, GB, DE, FR, NL]}}
        - {name: Free mail, points: -10, condition: {field: is_free_mail, op: eq, value: true}}
    engagement:
      decay: {half_life_days: 30}
      cap: 60
      criteria:
        - {name: Demo requested, group: intent, event: demo_requested, points: 30}
        - {name: Trial started, group: intent, event: trial_started, points: 25}
        - {name: Meeting booked, group: intent, event: meeting_booked, points: 20}
        - {name: Form submitted, group: forms, event: form_submitted, points: 10, max_occurrences: 3}
        - {name: Webinar attended, group: events, event: webinar_attended, points: 10}
        - {name: Event attended, group: events, event: event_attended, points: 10}
        - {name: Content downloaded, group: content, event: content_downloaded, points: 5, max_occurrences: 5}
        - {name: Email clicked, group: email, event: email_clicked, points: 2, max_occurrences: 10}
    group_caps: {intent: 50, email: 10, content: 15}
    total_cap: 100
"""


def demo_model_data() -> dict[str, Any]:
    """The demo model as data (``models[0]`` of scoring.yml)."""
    return dict(yaml.safe_load(DEMO_SCORING)["models"][0])


def generate_scoring(engine: Engine, *, now: datetime) -> dict[str, int]:
    """Apply the demo model and score every contact as of ``now``; returns row counts for the summary."""
    from pitboard.scoring import engine as scoring
    from pitboard.scoring.definitions import RESCORE_MODEL, apply_models
    from pitboard.scoring.schemas import validate_scoring

    now = ensure_utc(now)
    with session_scope(engine) as session:
        if session.scalar(select(func.count()).select_from(Contact)) == 0:
            return {}
        data = yaml.safe_load(DEMO_SCORING)
        spec = validate_scoring(data, load_field_registry(session))
        store_project_file(session, "scoring.yml", data, now, message="demo scoring model")
        apply_models(session, spec.models, actor=SYSTEM)
    with session_scope(engine) as session:
        scoring.rescore_model(session, MODEL_KEY, now=now)
        # apply_models queued the same rescore for a worker: it has run here.
        session.execute(update(Job).where(Job.task == RESCORE_MODEL, Job.status == "queued")
                        .values(status="done", finished_at=now))  # fmt: skip
    with session_scope(engine) as session:
        scored = session.scalar(select(func.count()).select_from(ContactScore)) or 0
    return {"contact_scores": int(scored)}
