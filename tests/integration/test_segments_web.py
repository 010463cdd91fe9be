"""Segment pages: the list, a segment's page, the builder with its live preview fragment, static list editing,
export and deletion, and project segments shown read-only.

Data is arranged on the ``session`` fixture and committed before the app is called (SQLite's write lock).
"""

from __future__ import annotations

import csv
import io
import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.consent import ledger
from pitboard.consent.ledger import ConsentEntry
from pitboard.kit.actor import SYSTEM
from pitboard.models import Segment
from pitboard.segments import service
from pitboard.segments.refresh import refresh_all
from tests.integration.conftest import csrf_from
from tests.integration.test_segments_refresh import add_contact, create, open_members, spec

US = {"field": "country", "op": "eq", "value": "US"}


def _token(client: TestClient, path: str = "/segments/new") -> str:
    return csrf_from(client.get(path).text)


def test_list_and_detail_pages(logged_in: TestClient, session: Session) -> None:
    ann = add_contact(session, "ann@acme.io", country="US", first_name="Ann", last_name="Lee").id
    add_contact(session, "bob@acme.io", country="DE")
    create(session, "us", US, description="Everyone in the <US>")
    service.apply_segments(session, [spec(session, "from-project", {"in_segment": "us"})], actor=SYSTEM)
    refresh_all(session)
    session.commit()

    page = logged_in.get("/segments")
    assert page.status_code == 200
    assert 'aria-current="page">Segments' in page.text
    assert 'data-members="us">1<' in page.text
    assert "segments/from-project.yml" in page.text
    assert "Everyone in the &lt;US&gt;" in page.text  # escaped

    detail = logged_in.get("/segments/us")
    assert detail.status_code == 200
    assert 'data-metric="members">1<' in detail.text
    assert f'href="/contacts/{ann}">Ann Lee</a>' in detail.text
    assert "field: country" in detail.text  # the definition as YAML
    assert detail.text.count("<svg") == 2  # member trend, entries and exits
    assert "Members at the end of each day" in detail.text
    assert "the condition" in detail.text  # how the member entered
    assert "Delete segment" in detail.text
    project = logged_in.get("/segments/from-project")
    assert 'defined in the project: <span class="mono">segments/from-project.yml</span>' in project.text
    assert "Delete segment" not in project.text
    assert logged_in.get("/segments/nope").status_code == 404


def test_builder_creates_a_segment_with_its_members(logged_in: TestClient, session: Session) -> None:
    ann = add_contact(session, "ann@acme.io", country="US").id
    add_contact(session, "bob@acme.io", country="DE")
    session.commit()
    builder = logged_in.get("/segments/new")
    assert builder.status_code == 200
    assert '<script src="/segments/builder.js" defer></script>' in builder.text
    assert 'data-snippet="all:' in builder.text  # guided examples
    assert "custom." not in builder.text or "Fields you can use" in builder.text
    token = csrf_from(builder.text)
    form = {"csrf_token": token, "key": "us", "name": "US", "entity": "contact", "kind": "dynamic",
            "min_contacts": "1", "condition": "field: country\nop: eq\nvalue: US\n", "action": "save"}  # fmt: skip

    # Without JavaScript, "Preview" comes back with the count and nothing saved.
    shown = logged_in.post("/segments/new", data={**form, "action": "preview"})
    assert shown.status_code == 200
    assert 'data-count="1"' in shown.text
    assert session.scalar(select(Segment.id)) is None
    session.rollback()

    bad = logged_in.post("/segments/new", data={**form, "condition": "{field: contry, op: eq, value: US}"})
    assert bad.status_code == 422
    assert "condition.field" in bad.text
    assert "did you mean country?" in bad.text
    assert "contry" in bad.text  # the draft comes back as typed

    saved = logged_in.post("/segments/new", data=form, follow_redirects=False)
    assert saved.status_code == 303
    assert saved.headers["location"].startswith("/segments/us?notice=")
    assert open_members(session, "us") == {ann}
    assert service.get_segment(session, "us").origin == "web"
    session.rollback()
    again = logged_in.post("/segments/new", data=form)
    assert again.status_code == 409
    assert "exists already" in again.text


def test_live_preview_fragment(logged_in: TestClient, session: Session) -> None:
    for i in range(3):
        add_contact(session, f"p{i}@acme.io", country="US", first_name=f"P{i}")
    session.commit()
    token = _token(logged_in)
    base = {"csrf_token": token, "entity": "contact", "kind": "dynamic", "min_contacts": "1"}
    r = logged_in.post("/segments/preview", data={**base, "condition": '{"field": "country", "op": "in", '
                                                  '"value": ["us"]}'})  # fmt: skip
    assert r.status_code == 200
    assert "<html" not in r.text  # a fragment, swapped into the page
    assert 'data-count="3"' in r.text
    assert ">P0</a>" in r.text
    r = logged_in.post("/segments/preview", data={**base, "condition": "all:\n  - {field: country, op: gt, value: 1}"})
    assert 'data-preview="invalid"' in r.text
    assert "condition.all[0].op" in r.text
    r = logged_in.post("/segments/preview", data={**base, "condition": "all: [\n"})
    assert "line 2: not valid YAML or JSON" in r.text
    r = logged_in.post("/segments/preview", data={**base, "condition": "in_segment: mine", "editing": "mine"})
    assert "in_segment mine names no other active segment" in r.text
    r = logged_in.post("/segments/preview", data={**base, "condition": "", "kind": "static"})
    assert 'data-preview="static"' in r.text
    # The form's CSRF token is required, as for every POST.
    assert (
        logged_in.post("/segments/preview", data={**base, "csrf_token": "forged", "condition": "x"}).status_code == 403
    )
    script = logged_in.get("/segments/builder.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "fetch(" in script.text
    assert "400" in script.text  # debounced


def test_edit_refresh_and_delete(logged_in: TestClient, session: Session) -> None:
    ann = add_contact(session, "ann@acme.io", country="US").id
    bob = add_contact(session, "bob@acme.io", country="DE").id
    create(session, "here", US)
    refresh_all(session)
    session.commit()
    edit = logged_in.get("/segments/here/edit")
    assert "value: US" in edit.text
    token = csrf_from(edit.text)
    form = {"csrf_token": token, "name": "Here", "entity": "contact", "kind": "dynamic", "min_contacts": "1",
            "condition": "{field: country, op: eq, value: DE}", "action": "save"}  # fmt: skip
    r = logged_in.post("/segments/here/edit", data=form, follow_redirects=False)
    assert r.status_code == 303
    assert open_members(session, "here") == {bob}
    session.rollback()
    r = logged_in.post("/segments/here/refresh", data={"csrf_token": token})
    assert "Refreshed in" in r.text
    assert "1 members" in r.text
    assert ann not in open_members(session, "here")
    session.rollback()
    kept = logged_in.post("/segments/here/delete", data={"csrf_token": token, "confirm_key": "wrong"})
    assert "Type the segment" in kept.text
    gone = logged_in.post("/segments/here/delete", data={"csrf_token": token, "confirm_key": "here"})
    assert "Segment here deleted." in gone.text
    assert session.scalar(select(Segment.id)) is None


def test_project_segments_are_read_only_in_the_builder(logged_in: TestClient, session: Session) -> None:
    service.apply_segments(session, [spec(session, "owned", US)], actor=SYSTEM)
    session.commit()
    page = logged_in.get("/segments/owned/edit")
    assert page.status_code == 200
    assert 'change <span class="mono">segments/owned.yml</span> and run' in page.text
    assert '<fieldset class="stack" disabled>' in page.text
    assert "builder.js" not in page.text
    form = {"csrf_token": csrf_from(page.text), "name": "Mine now", "entity": "contact", "kind": "dynamic",
            "min_contacts": "1", "condition": "{field: country, op: eq, value: DE}", "action": "save"}  # fmt: skip
    r = logged_in.post("/segments/owned/edit", data=form)
    assert r.status_code == 409
    assert "defined in the project: change segments/owned.yml and run pitboard apply" in r.text
    assert service.get_segment(session, "owned").name != "Mine now"


def test_static_list_editing_and_consent_checked_export(logged_in: TestClient, session: Session) -> None:
    yes = add_contact(session, "yes@acme.io").id
    silent = add_contact(session, "silent@acme.io").id
    ledger.record(session, contact_id=yes, entry=ConsentEntry(channel="email", purpose="events", status="granted",
                                                                source="form"), actor=SYSTEM)  # fmt: skip
    create(session, "vips", kind="static")
    session.commit()
    page = logged_in.get("/segments/vips")
    assert 'enctype="multipart/form-data"' in page.text
    token = csrf_from(page.text)
    r = logged_in.post("/segments/vips/members", data={"csrf_token": token, "members": "yes@acme.io, nobody@acme.io"})
    assert "1 added, 0 already on the list; not found: nobody@acme.io." in r.text
    r = logged_in.post("/segments/vips/members", data={"csrf_token": token, "members": ""},
                       files={"file": ("list.csv", b"email\nsilent@acme.io\nyes@acme.io\n", "text/csv")})  # fmt: skip
    assert "1 added, 1 already on the list." in r.text
    assert open_members(session, "vips") == {yes, silent}
    session.rollback()
    by = re.findall(r"<td>(manual|import)</td>", r.text)
    assert sorted(by) == ["import", "manual"]

    export = logged_in.post("/segments/vips/export", data={"csrf_token": token, "purpose": "events",
                                                           "channel": "email"})  # fmt: skip
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert [row["email"] for row in csv.DictReader(io.StringIO(export.text))] == ["yes@acme.io"]
    assert export.headers["X-Pitboard-Excluded-Total"] == "1"

    r = logged_in.post("/segments/vips/members/remove", data={"csrf_token": token, "member_id": str(yes)})
    assert "Removed from the list." in r.text
    assert open_members(session, "vips") == {silent}
