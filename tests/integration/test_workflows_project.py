"""Workflows as code: workflows/*.yml in the project (errors with file and line), pitboard plan / apply, the
dry-run simulator, and the three standard templates working end to end."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pitboard.cli.main import app as cli
from pitboard.conditions import load_field_registry
from pitboard.consent import suppression
from pitboard.contacts.changes import contacts_changed
from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import session_scope
from pitboard.kit.errors import Conflict
from pitboard.kit.time import utcnow
from pitboard.models import Contact, Event, Message, SalesUser
from pitboard.models.workflows import Workflow, WorkflowEnrolment
from pitboard.notify import endpoints, signing
from pitboard.project import apply as project_apply
from pitboard.project.loader import load_project, scaffold
from pitboard.segments import service as segments
from pitboard.workflows import service
from tests.integration.smtp_fixture import SmtpServer
from tests.integration.test_workflows_engine import run
from tests.integration.test_workflows_helpers import Receiver

TEMPLATES = Path(service.__file__).parent / "templates"
WELCOME = """\
name: Welcome
trigger: {type: event, event: Signed Up}
condition: {field: country, op: eq, value: US}
steps:
  - {id: tag, action: set_field, field: custom.welcomed, value: "yes"}
  - {id: pause, action: wait, duration: 2d}
  - {id: bye, action: exit}
"""


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "ops"
    scaffold(root, name="ops")
    (root / "workflows").mkdir()
    return root


def _event(session: Session, contact_id: int, name: str, days_ago: float = 0, **props: object) -> None:
    at = utcnow() - timedelta(days=days_ago)
    session.add(Event(message_id=uuid.uuid4().hex, event_type="track", name=name, contact_id=contact_id,
                      occurred_at=at, received_at=at, properties=props, context={}))  # fmt: skip
    session.flush()


def test_project_errors_name_file_line_and_path(session: Session, tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "workflows" / "bad.yml").write_text(
        "name: Bad\ntrigger: {type: event, event: X}\nsteps:\n  - id: a\n    action: wait\n    duration: soon\n"
        "  - {id: b, action: branch, condition: {field: nope, op: eq, value: 1}}\n"
    )
    project = load_project(root, registry=load_field_registry(session))
    problems = [str(p) for p in project.problems]
    assert len(problems) == 2, problems
    assert "workflows/bad.yml:4: steps.0.wait: 'soon' is not a duration" in problems[0]
    assert "workflows/bad.yml:7: steps.1.branch.condition" in problems[1]
    assert "nope" in problems[1]


def test_plan_apply_and_simulate(session: Session, tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "workflows" / "welcome.yml").write_text(WELCOME)
    us = Contact(email="us@example.org", email_normalized="us@example.org", country="US")
    fr = Contact(email="fr@example.org", email_normalized="fr@example.org", country="FR")
    session.add_all([us, fr])
    session.flush()
    _event(session, us.id, "Signed Up", days_ago=3)
    _event(session, fr.id, "Signed Up", days_ago=3)
    _event(session, us.id, "Signed Up", days_ago=40)

    planned = project_apply.plan(session, load_project(root), actor=SYSTEM,
                                 simulate_since=date.today() - timedelta(days=7))  # fmt: skip
    assert planned.changes["workflows"] == {"created": ["welcome"]}
    assert session.scalar(select(Workflow)) is None  # the plan wrote nothing
    sim = planned.simulation["workflows"]["workflows"]["welcome"]
    assert (sim["occurrences"], sim["would_enrol"]) == (2, 1)  # FR fails the condition; the 40-day-old is out
    assert sim["sample_contacts"] == [us.id]
    assert sim["steps"] == {"tag": {"action": "set_field", "runs": 1}, "pause": {"action": "wait", "runs": 1},
                            "bye": {"action": "exit", "runs": 1}}  # fmt: skip

    project_apply.apply(session, load_project(root), actor=SYSTEM)
    row = service.get_workflow(session, "welcome")
    assert (row.origin, row.active) == ("project", True)
    with pytest.raises(Conflict, match=r"workflows/welcome\.yml"):
        service.save_workflow(session, service.parse(session, {**row.definition, "name": "Changed"}), actor=SYSTEM)
    (root / "workflows" / "welcome.yml").unlink()
    assert project_apply.plan(session, load_project(root), actor=SYSTEM).changes["workflows"] == {
        "deactivated": ["welcome"]
    }


def test_the_three_templates_validate(session: Session) -> None:
    names = sorted(p.stem for p in TEMPLATES.glob("*.yml"))
    assert names == ["event-registration", "hard-bounce", "trial-signup"]
    for path in TEMPLATES.glob("*.yml"):
        import yaml

        spec = service.parse(session, {"key": path.stem, **yaml.safe_load(path.read_text())})
        assert spec.key == path.stem


def _install(session: Session, name: str) -> None:
    import yaml

    data = yaml.safe_load((TEMPLATES / f"{name}.yml").read_text())
    service.save_workflow(session, service.parse(session, data), actor=SYSTEM)


def test_trial_signup_template_end_to_end(engine: Engine, receiver: Receiver, smtp_server: SmtpServer) -> None:
    with session_scope(engine) as s:
        segments.create_segment(s, segments.parse_spec(s, {"key": "trial-users", "name": "T", "kind": "static"}),
                                actor=SYSTEM)  # fmt: skip
        endpoints.set_endpoint(s, key="product-api", kind="webhook", url=receiver.url + "/p", secret=SECRET,
                               actor=SYSTEM)  # fmt: skip
        _install(s, "trial-signup")
        owner = SalesUser(name="Sam", email="sam@example.org")
        s.add(owner)
        s.flush()
        ids = []
        for i in range(12):  # enough that the 10% holdout leaves most treated
            c = Contact(email=f"t{i}@example.org", email_normalized=f"t{i}@example.org", first_name="Tia",
                        owner_id=owner.id)  # fmt: skip
            s.add(c)
            s.flush()
            ids.append(c.id)
            _event(s, c.id, "Trial Started", trial_end="2026-12-24", plan="pro")
        contacts_changed(s, ids, reason="events")
    run(engine)
    with session_scope(engine) as s:
        rows = list(s.scalars(select(WorkflowEnrolment)))
        treated = [r for r in rows if not r.holdout]
        assert len(rows) == 12
        assert treated
        assert all(r.status == "completed" for r in treated)
        for r in treated:
            c = s.get(Contact, r.contact_id)
            assert c is not None
            assert c.custom == {"workflow_score": 20, "trial_end": "2026-12-24"}
    hooks = receiver.received("/p")
    assert len(hooks) == len(treated)
    assert {h.json()["subject"] if "subject" in h.json() else h.json()["data"]["subject"] for h in hooks} == {
        "trial.started"
    }
    subjects = sorted(m.message["Subject"] for m in smtp_server.received)
    assert subjects.count("Your trial has started") == len(treated)
    assert sum(1 for x in subjects if x.startswith("Trial started: t")) == len(treated)  # owner heads-ups


def test_hard_bounce_template_suppresses_the_address(engine: Engine) -> None:
    with session_scope(engine) as s:
        _install(s, "hard-bounce")
        c = Contact(email="gone@example.org", email_normalized="gone@example.org")
        s.add(c)
        s.flush()
        _event(s, c.id, "Email Bounced", type="soft")
        contacts_changed(s, [c.id], reason="events")
    run(engine)
    with session_scope(engine) as s:
        assert s.scalar(select(WorkflowEnrolment)) is None  # a soft bounce is not this workflow's trigger
        _event(s, c.id, "Email Bounced", type="hard")
        contacts_changed(s, [c.id], reason="events")
    run(engine)
    with session_scope(engine) as s:
        contact = s.get(Contact, c.id)
        assert contact is not None
        assert contact.custom == {"email_status": "undeliverable"}
        active = suppression.of_contact(s, contact)
        assert [(addr, sup.reason) for addr, sup in active] == [("gone@example.org", "hard_bounce")]
        # Even transactional mail to it is now refused by the consent gate.
        from pitboard.messaging.outbox import enqueue_email

        message = enqueue_email(s, contact_id=c.id, kind="transactional", purpose=None, template=None, subject="x",
                                text="y")  # fmt: skip
        assert message.status == "blocked"
        assert s.scalar(select(Message.status)) == "blocked"


def test_event_registration_template_records_first_touch(engine: Engine, smtp_server: SmtpServer) -> None:
    with session_scope(engine) as s:
        segments.create_segment(
            s, segments.parse_spec(s, {"key": "event-registrants", "name": "E", "kind": "static"}), actor=SYSTEM
        )
        _install(s, "event-registration")
        c = Contact(email="reg@example.org", email_normalized="reg@example.org", first_name="Rui")
        s.add(c)
        s.flush()
        now = utcnow()
        for source in ("linkedin", "newsletter"):
            s.add(Event(message_id=uuid.uuid4().hex, event_type="track", name="Event Registered", contact_id=c.id,
                        occurred_at=now, received_at=now, properties={"event_name": "Summit"}, context={},
                        utm_source=source))  # fmt: skip
            s.flush()
        contacts_changed(s, [c.id], reason="events")
    run(engine)
    with session_scope(engine) as s:
        contact = s.get(Contact, c.id)
        assert contact is not None
        assert contact.lead_source == "linkedin"  # first touch kept, the second registration did not overwrite
    assert [m.message["Subject"] for m in smtp_server.received] == ["You're registered: Summit"] * 2


def test_cli_template_list_and_copy(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(cli, ["workflows", "template"])
    assert listed.exit_code == 0
    assert "trial-signup" in listed.stdout
    copied = runner.invoke(cli, ["workflows", "template", "hard-bounce", "--into", str(tmp_path)])
    assert copied.exit_code == 0, copied.stdout
    assert (tmp_path / "workflows" / "hard-bounce.yml").read_text() == (TEMPLATES / "hard-bounce.yml").read_text()
    again = runner.invoke(cli, ["workflows", "template", "hard-bounce", "--into", str(tmp_path)])
    assert again.exit_code == 1
    missing = runner.invoke(cli, ["workflows", "template", "nope"])
    assert missing.exit_code == 1


SECRET = signing.new_secret()
