"""Consent and privacy pages: the public token pages (double opt-in, preference centre, one-click
unsubscribe) and the admin pages (a contact's consent section, purposes, the suppression list, DSARs).

Data is arranged with the services on the ``session`` fixture and committed before the app is called
(on SQLite an open transaction holds the write lock the app's request would wait for).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from itsdangerous.timed import TimestampSigner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pitboard.auth import service as auth
from pitboard.consent import ledger, suppression, tokens
from pitboard.consent.ledger import ConsentEntry
from pitboard.consent.purposes import load_purposes
from pitboard.contacts import service as contacts
from pitboard.contacts.merge import merge_contacts
from pitboard.contacts.schemas import ContactCreate
from pitboard.kit.actor import SYSTEM
from pitboard.models import ConsentRecord, ConsentState, Contact, PrivacyRequest, Suppression
from pitboard.settings import Settings
from tests.integration.conftest import csrf_from, login

UA = "Mozilla/5.0 (pitboard test browser)"

# --- helpers -------------------------------------------------------------------------------------


def add_contact(session: Session, **fields: Any) -> int:
    contact = contacts.create_contact(session, ContactCreate.model_validate(fields), actor=SYSTEM)
    return contact.id


def record(session: Session, contact_id: int, purpose: str, status: str, **fields: Any) -> ConsentRecord:
    fields.setdefault("source", "form")
    fields.setdefault("channel", "email")
    entry = ConsentEntry(purpose=purpose, status=status, **fields)
    return ledger.record(session, contact_id=contact_id, entry=entry, actor=SYSTEM)


def state_of(session: Session, contact_id: int, purpose: str, channel: str = "email") -> str | None:
    return session.scalar(
        select(ConsentState.status).where(
            ConsentState.contact_id == contact_id, ConsentState.channel == channel, ConsentState.purpose == purpose
        )
    )


def ledger_count(session: Session, contact_id: int) -> int:
    return session.scalar(select(func.count()).where(ConsentRecord.contact_id == contact_id)) or 0


def path(url: str) -> str:
    return urlsplit(url).path


def confirm_path(settings: Settings, contact_id: int, record_ids: list[int]) -> str:
    return path(tokens.double_opt_in_url(settings, contact_id=contact_id, record_ids=record_ids))


def preferences_path(settings: Settings, contact_id: int) -> str:
    return path(tokens.preferences_url(settings, contact_id=contact_id))


def unsubscribe_path(settings: Settings, contact_id: int, purpose: str | None, message_id: int | None = 7) -> str:
    return path(tokens.unsubscribe_url(settings, contact_id=contact_id, purpose=purpose, message_id=message_id))


def old_token(monkeypatch: pytest.MonkeyPatch, settings: Settings, kind: str, payload: dict[str, Any]) -> str:
    """A token signed 400 days ago: past every kind's max age."""
    with monkeypatch.context() as m:
        m.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 400 * 86400)
        return tokens.make_token(settings, kind, payload)


def checkbox(html: str, name: str) -> str:
    match = re.search(rf'<input type="checkbox"[^>]*value="{re.escape(name)}"[^>]*>', html)
    assert match, f"no checkbox {name}"
    return match.group(0)


def add_user(session: Session, role: str) -> tuple[str, str]:
    email, password = f"{role}@example.com", f"{role}-password-123"
    auth.create_user(session, email=email, name=role.title(), password=password, role=role, actor=SYSTEM)
    return email, password


def active_suppressions(session: Session, address: str, channel: str = "email") -> list[Suppression]:
    return list(suppression.active_for(session, [suppression.hash_for(session, channel, address)], channel).values())


@pytest.fixture
def ann(session: Session) -> int:
    contact_id = add_contact(session, email="ann@acme-example.com", first_name="Ann", last_name="Lee")
    session.commit()
    return contact_id


# --- double opt-in -------------------------------------------------------------------------------


def test_confirmation_link_get_shows_a_button_and_confirms_nothing(
    client: TestClient, session: Session, settings: Settings, ann: int
) -> None:
    pending_id = record(session, ann, "newsletter", "pending").id
    session.commit()
    r = client.get(confirm_path(settings, ann, [pending_id]))
    assert r.status_code == 200
    assert "Confirm your subscription to: <strong>Newsletter</strong>" in r.text
    assert re.search(r'<form method="post" action="/consent/confirm/[^"]+"', r.text)
    assert "set-cookie" not in r.headers  # opening a link from an email starts no session
    assert 'aria-label="Main"' not in r.text  # the public layout has no app navigation
    assert "Managed with <strong>pitboard</strong>" in r.text
    assert r.headers["referrer-policy"] == "no-referrer"
    assert state_of(session, ann, "newsletter") == "pending"
    assert ledger_count(session, ann) == 1


def test_confirmation_post_confirms_once_with_ip_and_user_agent(
    client: TestClient, session: Session, settings: Settings, ann: int
) -> None:
    pending_id = record(session, ann, "newsletter", "pending").id
    session.commit()
    url = confirm_path(settings, ann, [pending_id])
    r = client.post(url, headers={"User-Agent": UA})
    assert r.status_code == 200
    assert "you are subscribed" in r.text
    assert "Confirmed: <strong>Newsletter</strong>" in r.text
    assert "/preferences/" in r.text
    latest = ledger.history(session, ann)[0]
    assert (latest.status, latest.source, latest.user_agent) == ("granted", "double_opt_in", UA)
    assert latest.ip_address == "testclient"
    assert latest.evidence["confirms_record"] == pending_id
    assert state_of(session, ann, "newsletter") == "granted"
    session.rollback()

    again = client.post(url, headers={"User-Agent": UA})
    assert again.status_code == 200
    assert "Already confirmed" in again.text
    assert ledger_count(session, ann) == 2


def test_confirmation_after_a_withdrawal_does_not_resubscribe(
    client: TestClient, session: Session, settings: Settings, ann: int
) -> None:
    pending_id = record(session, ann, "newsletter", "pending").id
    record(session, ann, "newsletter", "withdrawn", source="unsubscribe")
    session.commit()
    r = client.post(confirm_path(settings, ann, [pending_id]))
    assert r.status_code == 200
    assert "Nothing was confirmed" in r.text
    assert "Not confirmed: <strong>Newsletter</strong>" in r.text
    assert state_of(session, ann, "newsletter") == "withdrawn"


def test_expired_confirmation_link_shows_the_expiry_page(
    client: TestClient, session: Session, settings: Settings, ann: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    pending_id = record(session, ann, "newsletter", "pending").id
    session.commit()
    token = old_token(monkeypatch, settings, "double_opt_in", {"c": ann, "r": [pending_id]})
    for r in (client.get(f"/consent/confirm/{token}"), client.post(f"/consent/confirm/{token}")):
        assert r.status_code == 410
        assert "This link has expired" in r.text
        assert f"work for {settings.double_opt_in_max_age_hours} hours" in r.text
    assert state_of(session, ann, "newsletter") == "pending"


# --- tokens: invalid, wrong kind, expired, erased ------------------------------------------------


@pytest.mark.parametrize("page", ["/consent/confirm", "/preferences", "/unsubscribe"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_tokens_of_another_kind_or_tampered_are_rejected(
    client: TestClient, session: Session, settings: Settings, ann: int, page: str, method: str
) -> None:
    record(session, ann, "newsletter", "granted", source="admin")
    session.commit()
    own_kind = {"/consent/confirm": "double_opt_in", "/preferences": "preferences", "/unsubscribe": "unsubscribe"}
    other = next(k for k in tokens.KINDS if k != own_kind[page])
    wrong_kind = tokens.make_token(settings, other, {"c": ann, "r": [1], "p": None, "m": None})
    good = tokens.make_token(settings, own_kind[page], {"c": ann, "r": [1], "p": None, "m": None})
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    for token in (wrong_kind, tampered, "not-a-token"):
        r = client.request(method, f"{page}/{token}", data={"List-Unsubscribe": "One-Click"})
        assert r.status_code == 400, (token, r.text)
    assert state_of(session, ann, "newsletter") == "granted"
    assert active_suppressions(session, "ann@acme-example.com") == []


@pytest.mark.parametrize("kind", ["preferences", "unsubscribe"])
def test_expired_preference_and_unsubscribe_links(
    client: TestClient, settings: Settings, ann: int, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    token = old_token(monkeypatch, settings, kind, {"c": ann, "p": None, "m": None})
    page = "/preferences" if kind == "preferences" else "/unsubscribe"
    r = client.get(f"{page}/{token}")
    assert r.status_code == 410
    assert "more recent email" in r.text


def test_links_of_a_deleted_contact_say_we_hold_no_data(
    client: TestClient, session: Session, settings: Settings, ann: int
) -> None:
    contacts.delete_contact(session, ann, actor=SYSTEM)
    session.commit()
    for url in (preferences_path(settings, ann), unsubscribe_path(settings, ann, None)):
        r = client.get(url)
        assert r.status_code == 404
        assert "We hold no data about you" in r.text
    one_click = client.post(unsubscribe_path(settings, ann, None), data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 404


# --- preference centre ---------------------------------------------------------------------------


def test_preference_centre_shows_purposes_wording_and_current_state(
    client: TestClient, session: Session, settings: Settings, ann: int
) -> None:
    purposes = load_purposes(session)
    purposes["product_updates"].regime = "opt_out"  # no record counts as "on"
    purposes["sales_outreach"].active = False  # retired purposes are not offered
    record(session, ann, "newsletter", "granted", source="admin")
    record(session, ann, "events", "withdrawn", source="unsubscribe")
    session.commit()
    r = client.get(preferences_path(settings, ann))
    assert r.status_code == 200
    assert "For a***@acme-example.com" in r.text
    assert " checked" in checkbox(r.text, "email:newsletter")
    assert " checked" in checkbox(r.text, "email:product_updates")
    assert " checked" not in checkbox(r.text, "email:events")
    assert "sales_outreach" not in r.text
    assert "Release notes and product announcements." in r.text  # the description
    assert "Yes, send me the newsletter. I can unsubscribe at any time." in r.text  # the wording
    assert re.search(r'<label for="choice-email-newsletter"><input [^>]*> Newsletter</label>', r.text)
    assert "sms:" not in r.text  # no phone number, no text-message choices
    assert 'name="unsubscribe_all"' in r.text
    assert "set-cookie" not in r.headers
    assert ledger_count(session, ann) == 2


def test_preference_centre_offers_phone_channels_to_contacts_with_a_number(
    client: TestClient, session: Session, settings: Settings
) -> None:
    contact_id = add_contact(session, email="bo@acme-example.com", phone="+49 30 1234567")
    session.commit()
    r = client.get(preferences_path(settings, contact_id))
    assert " checked" not in checkbox(r.text, "sms:events")
    assert "Text messages (SMS)" in r.text


def test_saving_preferences_records_grants_and_withdrawals_with_evidence(
    client: TestClient, session: Session, settings: Settings, ann: int
) -> None:
    record(session, ann, "newsletter", "granted", source="admin")
    session.commit()
    url = preferences_path(settings, ann)
    shown = ["email:newsletter", "email:product_updates", "email:events", "email:sales_outreach"]
    form = {"shown": shown, "choice": ["email:product_updates"]}
    r = client.post(url, data=form, headers={"User-Agent": UA})
    assert r.status_code == 200
    assert "Your choices are saved." in r.text
    assert "Newsletter (Email): unsubscribed" in r.text
    assert "Product updates (Email): subscribed" in r.text
    assert " checked" in checkbox(r.text, "email:product_updates")
    assert " checked" not in checkbox(r.text, "email:newsletter")
    new = [rec for rec in ledger.history(session, ann) if rec.source == "preference_page"]
    assert sorted((rec.purpose, rec.status) for rec in new) == [
        ("newsletter", "withdrawn"),
        ("product_updates", "granted"),
    ]
    assert all(rec.ip_address == "testclient" and rec.user_agent == UA for rec in new)
    grant = next(rec for rec in new if rec.status == "granted")
    assert grant.consent_text == "Send me product updates and release notes."
    count = ledger_count(session, ann)
    session.rollback()

    again = client.post(url, data=form)
    assert "Nothing changed." in again.text
    assert ledger_count(session, ann) == count


def test_a_purpose_the_form_did_not_show_is_left_alone(
    client: TestClient, session: Session, settings: Settings, ann: int
) -> None:
    purposes = load_purposes(session)
    purposes["events"].regime = "opt_out"
    session.commit()
    # The form was loaded before "events" existed: its unsent checkbox must not read as a withdrawal.
    r = client.post(preferences_path(settings, ann), data={"shown": ["email:newsletter"], "choice": []})
    assert "Nothing changed." in r.text
    assert ledger_count(session, ann) == 0


def test_unsubscribe_from_all_in_the_preference_centre_and_opting_in_again(
    client: TestClient, session: Session, settings: Settings, ann: int
) -> None:
    record(session, ann, "newsletter", "granted", source="admin")
    record(session, ann, "product_updates", "granted", source="admin")
    session.commit()
    url = preferences_path(settings, ann)
    shown = ["email:newsletter", "email:product_updates", "email:events", "email:sales_outreach"]
    # "All" wins over a ticked purpose: no grant is recorded only to be withdrawn a moment later.
    r = client.post(url, data={"shown": shown, "choice": ["email:events"], "unsubscribe_all": "yes"})
    assert r.status_code == 200
    assert "You are unsubscribed from all marketing email." in r.text
    assert state_of(session, ann, "newsletter") == "withdrawn"
    assert state_of(session, ann, "product_updates") == "withdrawn"
    assert not any(rec.status == "granted" and rec.source == "preference_page" for rec in ledger.history(session, ann))
    [row] = active_suppressions(session, "ann@acme-example.com")
    assert (row.reason, row.contact_id) == ("unsubscribe", ann)
    session.rollback()

    back = client.post(url, data={"shown": shown, "choice": ["email:newsletter"]})
    assert "Newsletter (Email): subscribed" in back.text
    assert "unsubscribed from all marketing email" not in back.text
    assert state_of(session, ann, "newsletter") == "granted"
    assert active_suppressions(session, "ann@acme-example.com") == []


# --- unsubscribe ---------------------------------------------------------------------------------


def test_one_click_unsubscribe_rfc_8058(client: TestClient, session: Session, settings: Settings, ann: int) -> None:
    record(session, ann, "newsletter", "granted", source="admin")
    record(session, ann, "events", "granted", source="admin")
    session.commit()
    url = unsubscribe_path(settings, ann, "newsletter", message_id=42)
    assert not client.cookies  # as a mail provider sends it: no cookies, no session, no CSRF token
    r = client.post(url, data={"List-Unsubscribe": "One-Click"}, headers={"User-Agent": "MailProvider/1.0"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text == "Unsubscribed.\n"
    latest = ledger.history(session, ann)[0]
    assert (latest.purpose, latest.status, latest.source) == ("newsletter", "withdrawn", "unsubscribe")
    assert latest.evidence == {"method": "one_click", "message_id": 42}
    assert latest.user_agent == "MailProvider/1.0"
    assert state_of(session, ann, "events") == "granted"  # only the link's purpose
    assert active_suppressions(session, "ann@acme-example.com") == []  # one purpose is not "everything"
    count = ledger_count(session, ann)
    session.rollback()

    again = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200
    assert ledger_count(session, ann) == count


def test_one_click_unsubscribe_also_accepts_a_multipart_body(
    client: TestClient, session: Session, settings: Settings, ann: int
) -> None:
    record(session, ann, "newsletter", "granted", source="admin")
    session.commit()
    # RFC 8058 allows multipart/form-data as well as form-urlencoded bodies.
    r = client.post(unsubscribe_path(settings, ann, "newsletter"), files={"List-Unsubscribe": (None, "One-Click")})
    assert r.status_code == 200
    assert r.text == "Unsubscribed.\n"
    assert state_of(session, ann, "newsletter") == "withdrawn"


def test_unsubscribe_page_confirms_before_unsubscribing_from_everything(
    client: TestClient, session: Session, settings: Settings, ann: int
) -> None:
    record(session, ann, "newsletter", "granted", source="admin")
    session.commit()
    url = unsubscribe_path(settings, ann, None)
    page = client.get(url)
    assert page.status_code == 200
    assert "Unsubscribe <strong>a***@acme-example.com</strong> from <strong>all marketing email</strong>?" in page.text
    assert re.search(r'<a href="/preferences/[^"]+">', page.text)
    assert state_of(session, ann, "newsletter") == "granted"  # GET changed nothing
    session.rollback()

    done = client.post(url)
    assert done.status_code == 200
    assert "You are unsubscribed" in done.text
    assert state_of(session, ann, "newsletter") == "withdrawn"
    assert ledger.history(session, ann)[0].evidence["method"] == "page"
    assert [s.reason for s in active_suppressions(session, "ann@acme-example.com")] == ["unsubscribe"]
    session.rollback()
    assert client.post(url).status_code == 200  # idempotent
    assert len(active_suppressions(session, "ann@acme-example.com")) == 1


# --- admin: access, roles, CSRF ------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/consent", "/consent/suppressions"])
def test_admin_consent_pages_need_login(client: TestClient, url: str) -> None:
    r = client.get(url, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login")


def test_navigation_links_consent(logged_in: TestClient) -> None:
    html = logged_in.get("/consent").text
    assert '<a href="/consent" aria-current="page">Consent</a>' in html


def test_viewer_sees_consent_but_cannot_act(client: TestClient, session: Session, ann: int) -> None:
    record(session, ann, "newsletter", "granted", source="admin")
    row = suppression.suppress(session, channel="email", reason="manual", source="admin", actor=SYSTEM,
                               address="other@acme-example.com")  # fmt: skip
    row_id = row.id
    viewer = add_user(session, "viewer")
    session.commit()
    login(client, *viewer)
    page = client.get(f"/contacts/{ann}")
    assert page.status_code == 200
    assert 'id="consent-heading"' in page.text
    assert "/preferences/" not in page.text  # the link is a credential: only for those who may change consent
    assert f'action="/contacts/{ann}/consent"' not in page.text
    listing = client.get("/consent/suppressions")
    assert listing.status_code == 200
    assert "/lift" not in listing.text
    token = csrf_from(page.text)
    attempts = {
        f"/contacts/{ann}/consent": {"channel": "email", "purpose": "events", "status": "granted"},
        f"/contacts/{ann}/consent/suppress": {"reason": "manual"},
        "/consent/suppressions": {"address": "x@acme-example.com", "channel": "email", "reason": "manual"},
        f"/consent/suppressions/{row_id}/lift": {"reason": "asked"},
    }
    for url, data in attempts.items():
        r = client.post(url, data={**data, "csrf_token": token}, follow_redirects=False)
        assert r.status_code == 403, url
        assert "editor or admin role" in r.text
    assert ledger_count(session, ann) == 1
    assert session.scalar(select(func.count()).select_from(Suppression)) == 1
    assert session.get(Suppression, row_id).lifted_at is None  # type: ignore[union-attr]


def test_consent_forms_need_the_csrf_token(logged_in: TestClient, session: Session, ann: int) -> None:
    row_id = suppression.suppress(session, channel="email", reason="manual", source="admin", actor=SYSTEM,
                                  address="other@acme-example.com").id  # fmt: skip
    session.commit()
    attempts = {
        f"/contacts/{ann}/consent": {"channel": "email", "purpose": "events", "status": "granted"},
        f"/contacts/{ann}/consent/suppress": {"reason": "manual"},
        "/consent/suppressions": {"address": "x@acme-example.com", "channel": "email", "reason": "manual"},
        f"/consent/suppressions/{row_id}/lift": {"reason": "asked"},
    }
    for url, data in attempts.items():
        for token in (None, "not-the-token"):
            sent = data if token is None else {**data, "csrf_token": token}
            r = logged_in.post(url, data=sent, follow_redirects=False)
            assert r.status_code == 403, url
            assert "did not come from pitboard" in r.text
    assert ledger_count(session, ann) == 0
    assert session.scalar(select(func.count()).select_from(Suppression)) == 1
    assert session.get(Suppression, row_id).lifted_at is None  # type: ignore[union-attr]


# --- admin: the contact's consent section --------------------------------------------------------


def test_contact_page_shows_state_history_and_suppression(
    logged_in: TestClient, session: Session, settings: Settings, ann: int
) -> None:
    record(session, ann, "newsletter", "pending", ip_address="203.0.113.9", user_agent=UA)
    record(session, ann, "newsletter", "granted", source="double_opt_in", ip_address="203.0.113.10",
           policy_version="2024-05")  # fmt: skip
    record(session, ann, "events", "withdrawn", source="unsubscribe")
    suppression.suppress(session, channel="email", reason="complaint", source="feedback-loop", actor=SYSTEM,
                         address="ANN@acme-example.com", contact_id=ann)  # fmt: skip
    session.commit()
    html = logged_in.get(f"/contacts/{ann}").text
    section = html[html.index('id="consent"') :]
    grid = section[section.index("consent-grid") : section.index("</table>")]
    newsletter_row = grid[grid.index(">Newsletter<") :].split("</tr>")[0]
    assert "granted" in newsletter_row
    assert "consent · double opt in · since" in newsletter_row
    history = section[section.index("consent-history") :].split("</table>")[0]
    rows = re.findall(r"<tr>.*?</tr>", history, flags=re.S)[1:]
    assert [re.search(r'class="badge status-(\w+)"', row).group(1) for row in rows] == [  # type: ignore[union-attr]
        "withdrawn",
        "granted",
        "pending",
    ]  # newest first
    assert "203.0.113.10" in rows[1]
    assert "2024-05" in rows[1]
    assert "<details><summary>Show</summary><p>“Yes, send me the newsletter." in rows[2]
    assert UA in rows[2]
    assert "ann@acme-example.com</span> for email · complaint" in section
    link = re.search(r'id="preferences-link"[^>]*value="([^"]+)"', section)
    assert link is not None
    assert tokens.read_token(settings, "preferences", link.group(1).rsplit("/", 1)[1]) == {"c": ann}


def test_contact_page_without_consent_records(logged_in: TestClient, ann: int) -> None:
    html = logged_in.get(f"/contacts/{ann}").text
    assert "No consent recorded for this contact yet." in html
    assert "None of this contact's addresses is suppressed." in html


def test_editor_records_consent_and_suppresses_email_from_the_contact_page(
    client: TestClient, session: Session, ann: int
) -> None:
    editor = add_user(session, "editor")
    session.commit()
    login(client, *editor)
    token = csrf_from(client.get(f"/contacts/{ann}").text)
    form = {"channel": "phone", "purpose": "sales_outreach", "status": "granted", "lawful_basis": "consent",
            "consent_text": "Agreed on the phone to a call back.", "csrf_token": token}  # fmt: skip
    r = client.post(f"/contacts/{ann}/consent", data=form)
    assert r.status_code == 200
    assert "Recorded sales_outreach by phone: granted." in r.text
    rec = ledger.history(session, ann)[0]
    assert (rec.channel, rec.source, rec.actor, rec.consent_text) == (
        "phone", "admin", "editor@example.com", "Agreed on the phone to a call back."
    )  # fmt: skip
    session.rollback()

    bad = client.post(f"/contacts/{ann}/consent", data={**form, "purpose": "newsletter"})
    assert "Not recorded: purpose newsletter is for email, not phone." in bad.text
    assert ledger_count(session, ann) == 1
    session.rollback()

    suppressed = client.post(f"/contacts/{ann}/consent/suppress", data={"reason": "manual", "note": "asked by phone",
                                                                        "csrf_token": token})  # fmt: skip
    assert "ann@acme-example.com is suppressed for email (manual)." in suppressed.text
    [row] = active_suppressions(session, "ann@acme-example.com")
    assert (row.reason, row.source, row.contact_id, row.note, row.created_by) == (
        "manual", "admin", ann, "asked by phone", "editor@example.com"
    )  # fmt: skip
    session.rollback()
    twice = client.post(f"/contacts/{ann}/consent/suppress", data={"reason": "manual", "csrf_token": token})
    assert "was already suppressed" in twice.text
    assert session.scalar(select(func.count()).select_from(Suppression)) == 1


# --- admin: purposes and the suppression list ----------------------------------------------------


def test_purposes_page_counts_states(logged_in: TestClient, session: Session, ann: int) -> None:
    other = add_contact(session, email="bo@acme-example.com")
    record(session, ann, "newsletter", "granted", source="admin")
    record(session, other, "newsletter", "granted", source="admin")
    record(session, other, "events", "withdrawn", source="admin")
    session.commit()
    html = logged_in.get("/consent").text
    newsletter = html[html.index("<strong>Newsletter</strong>") :].split("</tr>")[0]
    assert "email: granted <strong>2</strong>" in newsletter
    assert "double opt-in" in newsletter
    events = html[html.index("<strong>Events</strong>") :].split("</tr>")[0]
    assert "withdrawn <strong>1</strong>" in events


def test_suppression_list_add_search_filter_and_lift(logged_in: TestClient, session: Session, ann: int) -> None:
    page = logged_in.get("/consent/suppressions")
    assert "No suppression matches." in page.text
    token = csrf_from(page.text)
    added = logged_in.post("/consent/suppressions", data={"address": "Ann@Acme-Example.com", "channel": "email",
                                                          "reason": "manual", "note": "GDPR objection",
                                                          "csrf_token": token})  # fmt: skip
    assert added.status_code == 200
    assert "Suppressed for email (manual)." in added.text
    [row] = active_suppressions(session, "ann@acme-example.com")
    row_id, row_contact = row.id, row.contact_id
    assert row_contact == ann
    assert "acme-example" not in (row.note or "") + row.subject_hash  # only the hash is stored
    session.rollback()
    assert f'<a href="/contacts/{ann}">Ann Lee</a>' in added.text

    phone = logged_in.post("/consent/suppressions", data={"address": "+49 30 1234567", "channel": "sms",
                                                          "reason": "complaint", "csrf_token": token})  # fmt: skip
    assert "Suppressed for sms (complaint)." in phone.text

    def shown(**params: str) -> str:
        html = logged_in.get("/consent/suppressions", params=params).text
        return re.search(r"<strong data-total>(\d+)</strong>", html).group(1)  # type: ignore[union-attr]

    assert shown() == "2"
    assert shown(q="ANN@acme-example.com ") == "1"
    assert shown(q="+49301234567") == "1"  # the phone number in another spelling, same hash
    assert shown(q="nobody@acme-example.com") == "0"
    assert shown(channel="sms") == "1"
    assert shown(reason="manual") == "1"
    assert shown(reason="hard_bounce") == "0"

    invalid = logged_in.post("/consent/suppressions", data={"address": "not-an-email", "channel": "email",
                                                            "reason": "manual", "csrf_token": token})  # fmt: skip
    assert invalid.status_code == 422
    assert "is not an email address" in invalid.text
    erasure = logged_in.post("/consent/suppressions", data={"address": "x@acme-example.com", "channel": "email",
                                                            "reason": "erasure", "csrf_token": token})  # fmt: skip
    assert erasure.status_code == 422
    again = logged_in.post("/consent/suppressions", data={"address": "ann@acme-example.com", "channel": "email",
                                                          "reason": "manual", "csrf_token": token})  # fmt: skip
    assert "already suppressed for email" in again.text

    no_reason = logged_in.post(f"/consent/suppressions/{row_id}/lift", data={"reason": " ", "csrf_token": token})
    assert no_reason.status_code == 422
    assert "say why the suppression is lifted" in no_reason.text
    lifted = logged_in.post(f"/consent/suppressions/{row_id}/lift", data={"reason": "asked again", "csrf_token": token})
    assert lifted.status_code == 200
    assert f"Suppression {row_id} lifted." in lifted.text
    assert "asked again" in lifted.text
    assert active_suppressions(session, "ann@acme-example.com") == []
    session.rollback()
    assert shown() == "1"
    assert shown(state="lifted") == "1"
    assert shown(state="all") == "2"
    assert (
        logged_in.post("/consent/suppressions/999999/lift", data={"reason": "x", "csrf_token": token}).status_code
        == 404
    )


def test_suppression_list_pages_by_keyset(logged_in: TestClient, session: Session) -> None:
    for i in range(55):
        suppression.suppress(session, channel="email", reason="hard_bounce", source="bounce-feed", actor=SYSTEM,
                             address=f"bounced{i}@acme-example.com")  # fmt: skip
    session.commit()
    first = logged_in.get("/consent/suppressions")
    ids_first = [int(i) for i in re.findall(r"<tr>\s*<td>(\d+)<br>", first.text)]
    assert len(ids_first) == 50
    next_url = re.search(r'<a href="([^"]+)" rel="next">', first.text)
    assert next_url is not None
    second = logged_in.get(next_url.group(1).replace("&amp;", "&"))
    ids_second = [int(i) for i in re.findall(r"<tr>\s*<td>(\d+)<br>", second.text)]
    assert len(ids_second) == 5
    assert not set(ids_first) & set(ids_second)
    assert ids_first + ids_second == sorted(ids_first + ids_second, reverse=True)
    assert 'rel="next"' not in second.text


def test_contact_merge_keeps_old_links_working(
    client: TestClient, session: Session, settings: Settings, ann: int
) -> None:
    """A link made before a merge reaches the surviving contact."""
    other = add_contact(session, email="ann.lee@acme-example.com")
    merge_contacts(session, survivor_id=ann, merged_id=other, reason="duplicate", actor=SYSTEM)
    session.commit()
    r = client.post(unsubscribe_path(settings, other, None), data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200
    assert session.get(Contact, ann) is not None
    assert active_suppressions(session, "ann@acme-example.com")


# --- admin: data-subject requests ----------------------------------------------------------------


def open_request(client: TestClient, kind: str, email: str, **fields: str) -> Any:
    token = csrf_from(client.get("/privacy/requests").text)
    return client.post("/privacy/requests", data={"kind": kind, "email": email, "csrf_token": token, **fields})


def request_row(session: Session, request_id: int) -> PrivacyRequest:
    row = session.get(PrivacyRequest, request_id)
    assert row is not None
    return row


def test_privacy_requests_are_recorded_listed_and_flagged_overdue(logged_in: TestClient, ann: int) -> None:
    assert "No privacy request matches." in logged_in.get("/privacy/requests").text
    r = open_request(logged_in, "export", "Ann@acme-example.com", notes="by email, identity checked")
    assert r.status_code == 200
    assert re.search(r"Request \d+ recorded; it is due \d\d \w+ \d{4}\.", r.text)
    assert f'<a href="/contacts/{ann}">Ann Lee</a>' in r.text
    late = open_request(logged_in, "erasure", "bo@acme-example.com", received_on=f"{date.today().year - 1}-01-02")
    assert "overdue" in late.text
    listing = logged_in.get("/privacy/requests").text
    assert listing.count("<tr>") == 3  # header and two requests
    assert listing.count("data-overdue") == 1
    overdue_only = logged_in.get("/privacy/requests", params={"overdue": "yes"}).text
    assert "bo@acme-example.com" in overdue_only
    assert "Ann@acme-example.com" not in overdue_only
    exports = logged_in.get("/privacy/requests", params={"kind": "export"}).text
    assert "bo@acme-example.com" not in exports

    bad = open_request(logged_in, "export", "not-an-email")
    assert bad.status_code == 422
    assert "Not recorded:" in bad.text
    assert 'value="not-an-email"' in bad.text  # the form keeps what was typed


def test_export_downloads_the_json_and_completes_the_request(logged_in: TestClient, session: Session, ann: int) -> None:
    record(session, ann, "newsletter", "granted", source="admin")
    session.commit()
    r = open_request(logged_in, "export", "ann@acme-example.com")
    request_id = int(re.search(r"Request (\d+) recorded", r.text).group(1))  # type: ignore[union-attr]
    token = csrf_from(r.text)
    assert f'action="/privacy/requests/{request_id}/export"' in r.text
    download = logged_in.post(f"/privacy/requests/{request_id}/export", data={"csrf_token": token})
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/json"
    assert download.headers["content-disposition"] == (
        f'attachment; filename="privacy-request-{request_id}-export.json"'
    )
    document = json.loads(download.content)
    [person] = document["records"]
    assert person["contact"]["email"] == "ann@acme-example.com"
    assert [c["purpose"] for c in person["consent_records"]] == ["newsletter"]
    row = request_row(session, request_id)
    assert row.status == "completed"
    assert row.result["sha256"] == hashlib.sha256(download.content).hexdigest()
    session.rollback()

    detail = logged_in.get(f"/privacy/requests/{request_id}").text
    assert "SHA-256" in detail
    assert "Run export" not in detail
    twice = logged_in.post(f"/privacy/requests/{request_id}/export", data={"csrf_token": token})
    assert twice.status_code == 422
    assert "already completed" in twice.text


def test_erasure_needs_an_admin_and_the_email_typed_again(
    client: TestClient, session: Session, settings: Settings, ann: int
) -> None:
    editor, admin = add_user(session, "editor"), add_user(session, "admin")
    session.commit()
    login(client, *editor)
    opened = open_request(client, "erasure", "ann@acme-example.com")
    request_id = int(re.search(r"Request (\d+) recorded", opened.text).group(1))  # type: ignore[union-attr]
    assert "An admin answers this request." in opened.text
    assert "/erase" not in opened.text
    token = csrf_from(opened.text)
    form = {"confirm_email": "ann@acme-example.com", "csrf_token": token}
    assert client.post(f"/privacy/requests/{request_id}/erase", data=form).status_code == 403
    assert (
        client.post(f"/privacy/requests/{request_id}/reject", data={"reason": "x", "csrf_token": token}).status_code
        == 403
    )

    login(client, *admin)
    page = client.get(f"/privacy/requests/{request_id}").text
    token = csrf_from(page)
    assert 'Type <span class="mono">ann@acme-example.com</span> to confirm' in page
    wrong = client.post(f"/privacy/requests/{request_id}/erase", data={"confirm_email": "ann@acme.com",
                                                                        "csrf_token": token})  # fmt: skip
    assert wrong.status_code == 422
    assert "type the request&#39;s email address again" in wrong.text
    assert session.get(Contact, ann) is not None
    session.rollback()

    done = client.post(f"/privacy/requests/{request_id}/erase", data={"confirm_email": " ANN@acme-example.com",
                                                                       "csrf_token": token})  # fmt: skip
    assert done.status_code == 200
    assert "Erasure completed: 1 contact(s) erased." in done.text
    assert session.get(Contact, ann) is None
    row = request_row(session, request_id)
    assert (row.status, row.subject_label) == ("completed", "a***@a***.com")
    assert active_suppressions(session, "ann@acme-example.com")
    session.rollback()
    assert "a***@a***.com" in done.text
    assert client.get(preferences_path(settings, ann)).status_code == 404  # old links now hold nothing


def test_rejecting_a_request_needs_a_reason(logged_in: TestClient, session: Session) -> None:
    r = open_request(logged_in, "export", "someone@acme-example.com")
    request_id = int(re.search(r"Request (\d+) recorded", r.text).group(1))  # type: ignore[union-attr]
    token = csrf_from(r.text)
    blank = logged_in.post(f"/privacy/requests/{request_id}/reject", data={"reason": " ", "csrf_token": token})
    assert blank.status_code == 422
    assert "say why the request is rejected" in blank.text
    rejected = logged_in.post(f"/privacy/requests/{request_id}/reject",
                              data={"reason": "identity not verified", "csrf_token": token})  # fmt: skip
    assert "Rejected: identity not verified" in rejected.text
    assert request_row(session, request_id).status == "rejected"


def test_privacy_pages_check_role_and_csrf(logged_in: TestClient, session: Session) -> None:
    assert logged_in.get("/privacy/requests/999").status_code == 404
    r = open_request(logged_in, "export", "someone@acme-example.com")
    request_id = int(re.search(r"Request (\d+) recorded", r.text).group(1))  # type: ignore[union-attr]
    for url in ("/privacy/requests", *(f"/privacy/requests/{request_id}/{a}" for a in ("export", "erase", "reject"))):
        refused = logged_in.post(url, data={"kind": "export", "email": "x@acme-example.com", "reason": "x",
                                            "confirm_email": "someone@acme-example.com"})  # fmt: skip
        assert refused.status_code == 403, url
    assert request_row(session, request_id).status == "received"
    session.rollback()

    viewer = add_user(session, "viewer")
    session.commit()
    login(logged_in, *viewer)
    page = logged_in.get(f"/privacy/requests/{request_id}")
    assert page.status_code == 200
    assert "Record a new request" not in logged_in.get("/privacy/requests").text
    denied = logged_in.post("/privacy/requests", data={"kind": "export", "email": "x@acme-example.com",
                                                   "csrf_token": csrf_from(page.text)})  # fmt: skip
    assert denied.status_code == 403
    assert session.scalar(select(func.count()).select_from(PrivacyRequest)) == 1
