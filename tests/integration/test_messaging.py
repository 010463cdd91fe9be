"""The email outbox and SMTP delivery, end to end: outbox row → durable job → worker → a real SMTP server
(aiosmtpd on 127.0.0.1), on SQLite and PostgreSQL. Consent is set up through the consent ledger."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, select, text, update
from sqlalchemy.orm import Session

from pitboard.consent import ledger, suppression, tokens
from pitboard.consent.ledger import ConsentEntry
from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import session_factory, session_scope
from pitboard.kit.errors import ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.messaging import outbox, smtp
from pitboard.messaging.outbox import enqueue_email
from pitboard.messaging.render import render_email
from pitboard.models import Contact, Identity, Job, Message
from pitboard.settings import Settings, get_settings
from pitboard.worker import queue
from pitboard.worker.runner import run_worker
from tests.integration.smtp_fixture import SmtpServer, free_port, self_signed

ADA = "ada@example.org"


# --- helpers -----------------------------------------------------------------------------------------


def _contact(session: Session, email: str | None = ADA, first_name: str | None = "Ada") -> Contact:
    # A plain row: the contacts service would also queue a contacts.changed job, which these tests' job
    # counts are not about.
    contact = Contact(email=email, email_normalized=email and email.lower(), first_name=first_name)
    session.add(contact)
    session.flush()
    return contact


def _consent(session: Session, contact_id: int, status: str, purpose: str = "product_updates") -> None:
    entry = ConsentEntry(channel="email", purpose=purpose, status=status, source="form")
    ledger.record(session, contact_id=contact_id, entry=entry, actor=SYSTEM)


def _granted_contact(engine: Engine, email: str = ADA, first_name: str | None = "Ada") -> int:
    with session_scope(engine) as s:
        contact = _contact(s, email, first_name)
        _consent(s, contact.id, "granted")
        return contact.id


def _marketing(session: Session, contact_id: int, **kw: Any) -> Message:
    values: dict[str, Any] = {
        "kind": "marketing", "purpose": "product_updates", "template": None, "subject": "What is new in May",
        "text": "Hello,\n\nthree new features.\n",
        "html": "<html><body><p>Hello,</p><p>three new features.</p></body></html>",
    }  # fmt: skip
    values.update(kw)
    return enqueue_email(session, contact_id=contact_id, **values)


def _make_due(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(update(Job).where(Job.status == "queued").values(run_at=utcnow() - timedelta(seconds=1)))


def _message(engine: Engine, message_id: int) -> Message:
    with session_scope(engine) as s:
        message = s.get(Message, message_id)
        assert message is not None
        return message


def _job(engine: Engine, message_id: int) -> Job | None:
    with session_scope(engine) as s:
        message = s.get(Message, message_id)
        assert message is not None
        return outbox.delivery_job(s, message)


def _count(engine: Engine, model: type[Any]) -> int:
    with session_scope(engine) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


# --- what goes on the wire ---------------------------------------------------------------------------


def test_marketing_email_has_one_click_unsubscribe_headers_and_footer(engine: Engine, smtp_server: SmtpServer) -> None:
    contact_id = _granted_contact(engine)
    with session_scope(engine) as s:
        message_id = _marketing(s, contact_id).id

    assert run_worker(engine, burst=True) == Counter({"done": 1})

    [got] = smtp_server.received
    assert got.rcpt_tos == [ADA]
    assert got.mail_from == "marketing@pitboard.test"
    row = _message(engine, message_id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
    assert row.sent_at is not None
    mail = got.message
    assert mail["Message-ID"] == row.message_id_header
    assert mail["Subject"] == "What is new in May"
    assert mail["Date"] is not None
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https_target, mailto_target = (t.strip() for t in mail["List-Unsubscribe"].split(","))
    assert https_target.startswith("<https://ops.pitboard.test/unsubscribe/")
    assert mailto_target == f"<mailto:unsubscribe@pitboard.test?subject=unsubscribe-{message_id}>"
    unsubscribe_url = https_target.strip("<>")
    token = unsubscribe_url.rsplit("/", 1)[1]
    assert tokens.read_token(get_settings(), "unsubscribe", token) == {"c": contact_id, "p": "product_updates",
                                                                       "m": message_id}  # fmt: skip
    # Both parts: the original content, then the footer with the same unsubscribe link and the preferences link.
    assert mail.get_content_type() == "multipart/alternative"
    plain, html = got.part("text/plain"), got.part("text/html")
    assert plain.index("three new features") < plain.index(unsubscribe_url)
    assert "Manage your email preferences: https://ops.pitboard.test/preferences/" in plain
    assert "Sent to you as part of: Product updates." in plain
    assert f'href="{unsubscribe_url}"' in html
    assert html.index("three new features") < html.index(unsubscribe_url) < html.index("</body>")


def test_transactional_template_is_personalised_in_both_parts_without_unsubscribe(
    engine: Engine, smtp_server: SmtpServer
) -> None:
    with session_scope(engine) as s:
        contact = _contact(s, first_name="Zoë")
        rendered = render_email(
            "double_opt_in_confirm",
            {"contact": contact, "purposes": ["Newsletter", "Tips & <tricks>"],
             "confirm_url": "https://ops.pitboard.test/consent/confirm/abc?x=1&y=2", "expires_hours": 72},
        )  # fmt: skip
        message_id = enqueue_email(
            s, contact_id=contact.id, kind="transactional", purpose=None, template="double_opt_in_confirm",
            subject=rendered.subject, text=rendered.text, html=rendered.html,
        ).id  # fmt: skip
    run_worker(engine, burst=True)

    [got] = smtp_server.received
    plain, html = got.part("text/plain"), got.part("text/html")
    assert plain.startswith("Hello Zoë,")
    assert "- Tips & <tricks>" in plain
    assert "https://ops.pitboard.test/consent/confirm/abc?x=1&y=2" in plain
    assert "<p>Hello Zoë,</p>" in html
    assert "<li>Tips &amp; &lt;tricks&gt;</li>" in html  # autoescaped in HTML only
    assert 'href="https://ops.pitboard.test/consent/confirm/abc?x=1&amp;y=2"' in html
    assert got.message["Subject"] == "Please confirm your subscription"
    assert got.message["List-Unsubscribe"] is None  # transactional mail is not a subscription
    assert "Unsubscribe" not in plain
    assert _message(engine, message_id).template == "double_opt_in_confirm"


def test_contact_without_a_first_name_gets_the_fallback(engine: Engine, smtp_server: SmtpServer) -> None:
    with session_scope(engine) as s:
        contact = _contact(s, first_name=None)
        rendered = render_email("privacy_export_ready", {"contact": contact, "download_url": "https://x.test/d",
                                                         "expires_hours": 24})  # fmt: skip
        enqueue_email(s, contact_id=contact.id, kind="transactional", purpose=None, template="privacy_export_ready",
                      subject=rendered.subject, text=rendered.text)  # fmt: skip
    run_worker(engine, burst=True)
    [got] = smtp_server.received
    assert got.message.get_content_type() == "text/plain"  # no HTML template: a single text part
    assert got.part("text/plain").startswith("Hello there,")


# --- the consent gate --------------------------------------------------------------------------------


def test_message_without_consent_is_recorded_blocked_and_never_queued(engine: Engine, smtp_server: SmtpServer) -> None:
    with session_scope(engine) as s:
        contact = _contact(s)  # product_updates is opt-in: no record, no consent
        message = _marketing(s, contact.id)
        assert (message.status, message.blocked_reason) == ("blocked", "no_consent")
        message_id = message.id
    assert _job(engine, message_id) is None
    assert _count(engine, Job) == 0
    assert run_worker(engine, burst=True) == Counter()
    assert smtp_server.received == []
    row = _message(engine, message_id)
    assert (row.status, row.to_address, row.subject) == ("blocked", ADA, "What is new in May")


def test_hard_bounce_blocks_even_transactional_mail(engine: Engine, smtp_server: SmtpServer) -> None:
    with session_scope(engine) as s:
        contact = _contact(s)
        suppression.suppress(s, channel="email", reason="hard_bounce", source="test", actor=SYSTEM, address=ADA)
        message = enqueue_email(s, contact_id=contact.id, kind="transactional", purpose=None, template=None,
                                subject="Your receipt", text="Thanks.")  # fmt: skip
        assert (message.status, message.blocked_reason) == ("blocked", "suppressed:hard_bounce")
    assert run_worker(engine, burst=True) == Counter()
    assert smtp_server.received == []


def test_consent_withdrawn_after_enqueue_blocks_delivery(engine: Engine, smtp_server: SmtpServer) -> None:
    contact_id = _granted_contact(engine)
    with session_scope(engine) as s:
        message = _marketing(s, contact_id)
        assert message.status == "queued"
        message_id = message.id
    with session_scope(engine) as s:
        _consent(s, contact_id, "withdrawn")

    assert run_worker(engine, burst=True) == Counter({"done": 1})

    assert smtp_server.received == []
    row = _message(engine, message_id)
    assert (row.status, row.blocked_reason, row.sent_at) == ("blocked", "withdrawn", None)
    job = _job(engine, message_id)
    assert job is not None
    assert job.status == "done"


def test_address_no_longer_the_contacts_is_not_sent_to(engine: Engine, smtp_server: SmtpServer) -> None:
    contact_id = _granted_contact(engine)
    with session_scope(engine) as s:
        message_id = _marketing(s, contact_id).id
    with session_scope(engine) as s:
        # The person changed address and the old one was removed: it is outside what the gate checks.
        s.execute(delete(Identity).where(Identity.contact_id == contact_id))
        new = "ada@new.example.org"
        s.execute(update(Contact).where(Contact.id == contact_id).values(email=new, email_normalized=new))
    run_worker(engine, burst=True)
    assert smtp_server.received == []
    assert (_message(engine, message_id).status, _message(engine, message_id).blocked_reason) == (
        "blocked", "address_changed",
    )  # fmt: skip


def test_block_pending_stops_queued_messages(engine: Engine, smtp_server: SmtpServer) -> None:
    contact_id = _granted_contact(engine)
    with session_scope(engine) as s:
        first, second = _marketing(s, contact_id).id, _marketing(s, contact_id, subject="Another").id
    with session_scope(engine) as s:
        assert outbox.block_pending(s, contact_id=contact_id, reason="erasure") == 2
    assert run_worker(engine, burst=True) == Counter({"done": 2})
    assert smtp_server.received == []
    assert {_message(engine, m).blocked_reason for m in (first, second)} == {"erasure"}


def test_bare_address_is_for_transactional_mail_only(engine: Engine, smtp_server: SmtpServer) -> None:
    with session_scope(engine) as s:
        with pytest.raises(ValidationFailed, match="contacts only"):
            enqueue_email(s, contact_id=None, to_address="someone@example.net", kind="marketing",
                          purpose="product_updates", template=None, subject="Hi", text="Hi")  # fmt: skip
        with pytest.raises(ValidationFailed, match="not a valid email address"):
            enqueue_email(s, contact_id=None, to_address="not-an-address", kind="transactional", purpose=None,
                          template=None, subject="Hi", text="Hi")  # fmt: skip
        message_id = enqueue_email(s, contact_id=None, to_address="someone@example.net", kind="transactional",
                                   purpose=None, template=None, subject="Your request", text="Done.").id  # fmt: skip
    run_worker(engine, burst=True)
    [got] = smtp_server.received
    assert got.rcpt_tos == ["someone@example.net"]
    assert _message(engine, message_id).status == "sent"


def test_a_contacts_email_goes_only_to_their_own_addresses(engine: Engine) -> None:
    with session_scope(engine) as s:
        contact = _contact(s)
        with pytest.raises(ValidationFailed, match="not an email address of contact"):
            enqueue_email(s, contact_id=contact.id, to_address="other@example.net", kind="transactional",
                          purpose=None, template=None, subject="Hi", text="Hi")  # fmt: skip
        message = enqueue_email(s, contact_id=contact.id, to_address=ADA.upper(), kind="transactional",
                                purpose=None, template=None, subject="Hi", text="Hi")  # fmt: skip
        assert message.to_address == ADA


# --- idempotency -------------------------------------------------------------------------------------


def test_idempotency_key_returns_the_first_message(engine: Engine, smtp_server: SmtpServer) -> None:
    contact_id = _granted_contact(engine)
    with session_scope(engine) as s:
        first = _marketing(s, contact_id, idempotency_key="campaign-7:contact-1")
        again = _marketing(s, contact_id, idempotency_key="campaign-7:contact-1")
        assert again is first
    with session_scope(engine) as s:  # a later transaction, as a retried API request would be
        assert _marketing(s, contact_id, idempotency_key="campaign-7:contact-1").id == first.id
    assert (_count(engine, Message), _count(engine, Job)) == (1, 1)
    run_worker(engine, burst=True)
    assert len(smtp_server.received) == 1


def test_concurrent_enqueues_with_one_key_make_one_message(engine: Engine) -> None:
    contact_id = _granted_contact(engine)
    with session_scope(engine) as s:
        _marketing(s, contact_id)  # seeds the purposes and the hash salt, so the race is only over the message
    first = session_factory(engine)()
    try:
        mine = _marketing(first, contact_id, idempotency_key="race").id  # written, not committed
        outcome: dict[str, Any] = {}

        def theirs() -> None:
            try:
                with session_scope(engine) as s:
                    outcome["id"] = _marketing(s, contact_id, idempotency_key="race").id
            except Exception as exc:  # re-raised in the test thread below
                outcome["error"] = exc

        other = threading.Thread(target=theirs)
        other.start()
        _wait_until_blocked(engine, other)
        first.commit()
    finally:
        first.close()
    other.join(timeout=30)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["id"] == mine
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.idempotency_key == "race")) == 1
        assert s.scalar(select(func.count()).select_from(Job)) == 2


WAITING_FOR_A_LOCK = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


WAITING_FOR_A_LOCK = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


def _wait_until_blocked(engine: Engine, thread: threading.Thread) -> None:
    """Until the other transaction waits for ours: on PostgreSQL on the unique key (after its own look-up
    found nothing, so it takes the savepoint path), on SQLite for the write lock."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and thread.is_alive():
        if engine.dialect.name != "postgresql":
            time.sleep(0.3)
            return
        with engine.connect() as conn:
            waiting = conn.scalar(text(WAITING_FOR_A_LOCK))
        if waiting:
            return
        time.sleep(0.02)
    raise AssertionError("the concurrent enqueue never waited for ours")


def test_a_duplicated_delivery_job_sends_once(engine: Engine, smtp_server: SmtpServer) -> None:
    contact_id = _granted_contact(engine)
    with session_scope(engine) as s:
        message_id = _marketing(s, contact_id).id
    assert run_worker(engine, burst=True) == Counter({"done": 1})
    # The job runs again (a redelivered job, or a second job for the same message): the message is sent already.
    with engine.begin() as conn:
        conn.execute(update(Job).values(status="queued", run_at=utcnow() - timedelta(seconds=1)))
    with session_scope(engine) as s:
        queue.enqueue(s, "messaging.deliver", {"message_id": message_id})
    assert run_worker(engine, burst=True) == Counter({"done": 2})
    assert len(smtp_server.received) == 1
    row = _message(engine, message_id)
    assert (row.status, row.attempts) == ("sent", 1)


def test_a_new_message_reusing_a_deleted_ones_id_gets_its_own_delivery(engine: Engine, smtp_server: SmtpServer) -> None:
    contact_id = _granted_contact(engine)
    with session_scope(engine) as s:
        erased_id = _marketing(s, contact_id, subject="Queued, then erased").id
    with session_scope(engine) as s:
        s.execute(delete(Message).where(Message.id == erased_id))  # as an erasure does; its job stays behind
    with session_scope(engine) as s:
        new = _marketing(s, contact_id, subject="Sent later")
        new_id = new.id  # SQLite hands out the deleted id again; PostgreSQL's sequence does not
    assert _count(engine, Job) == 2
    assert run_worker(engine, burst=True) == Counter({"done": 2})
    assert [r.message["Subject"] for r in smtp_server.received] == ["Sent later"]
    assert _message(engine, new_id).status == "sent"


# --- failures ----------------------------------------------------------------------------------------


def test_permanent_refusal_marks_the_message_failed_without_retry(engine: Engine, smtp_server: SmtpServer) -> None:
    smtp_server.handler.refuse[ADA] = "550 5.1.1 <ada@example.org>: Recipient address rejected: User unknown"
    contact_id = _granted_contact(engine)
    with session_scope(engine) as s:
        message_id = _marketing(s, contact_id).id

    assert run_worker(engine, burst=True) == Counter({"done": 1})

    row = _message(engine, message_id)
    assert (row.status, row.attempts, row.sent_at) == ("failed", 1, None)
    assert "550" in (row.last_error or "")
    assert "User unknown" in (row.last_error or "")
    job = _job(engine, message_id)
    assert job is not None
    assert (job.status, job.attempts) == ("done", 1)
    _make_due(engine)
    assert run_worker(engine, burst=True) == Counter()
    assert smtp_server.received == []


def test_temporary_refusal_is_retried_with_backoff_then_sent(engine: Engine, smtp_server: SmtpServer) -> None:
    smtp_server.handler.defer[ADA] = 2
    contact_id = _granted_contact(engine)
    with session_scope(engine) as s:
        message_id = _marketing(s, contact_id).id

    before = utcnow()
    assert run_worker(engine, burst=True) == Counter({"queued": 1})
    job = _job(engine, message_id)
    assert job is not None
    assert job.run_at > before  # backoff: not retried at once
    assert "451" in (job.last_error or "")
    assert _message(engine, message_id).status == "queued"
    _make_due(engine)
    assert run_worker(engine, burst=True) == Counter({"queued": 1})
    _make_due(engine)
    assert run_worker(engine, burst=True) == Counter({"done": 1})

    assert len(smtp_server.received) == 1
    row = _message(engine, message_id)
    assert (row.status, row.attempts) == ("sent", 3)


def test_message_of_a_dead_job_is_marked_dead(engine: Engine, smtp_server: SmtpServer) -> None:
    smtp_server.handler.defer[ADA] = 99
    contact_id = _granted_contact(engine)
    with session_scope(engine) as s:
        message_id = _marketing(s, contact_id).id
    with engine.begin() as conn:
        conn.execute(update(Job).values(max_attempts=1))
    assert run_worker(engine, burst=True) == Counter({"dead": 1})
    row = _message(engine, message_id)
    assert row.status == "dead"
    assert "451" in (row.last_error or "")


def test_connection_refused_is_temporary(
    engine: Engine, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PITBOARD_SMTP_PORT", str(free_port()))  # nothing listens there
    get_settings.cache_clear()
    contact_id = _granted_contact(engine)
    with session_scope(engine) as s:
        message_id = _marketing(s, contact_id).id
    assert run_worker(engine, burst=True) == Counter({"queued": 1})
    job = _job(engine, message_id)
    assert job is not None
    assert "SMTP connection failed" in (job.last_error or "")
    assert _message(engine, message_id).status == "queued"
    assert smtp_server.received == []


# --- SMTP configuration ------------------------------------------------------------------------------


def _outbox_row(to: str = ADA) -> Message:
    return Message(
        id=1, contact_id=None, channel="email", kind="transactional", purpose=None, template=None, to_address=to,
        from_address="Pitboard <marketing@pitboard.test>", subject="Hi", body_text="Hello\n", body_html=None,
        headers={}, message_id_header="<abc@pitboard.test>", status="queued", attempts=0, created_at=utcnow(),
    )  # fmt: skip


# aiosmtpd warns (from its server thread) that AUTH without TLS is unsafe; this server lives for one test.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_login_with_configured_credentials() -> None:
    with SmtpServer(credentials=("mailer", "s3cret")) as server:
        base = Settings(smtp_host=server.host, smtp_port=server.port, smtp_timeout_seconds=5)
        smtp.send(base.model_copy(update={"smtp_username": "mailer", "smtp_password": "s3cret"}), _outbox_row())
        assert len(server.received) == 1
        with pytest.raises(smtp.DeliveryError, match="login refused") as refused:
            smtp.send(base.model_copy(update={"smtp_username": "mailer", "smtp_password": "wrong"}), _outbox_row())
        assert not refused.value.permanent  # a configuration error: fixed, the retries succeed
        with pytest.raises(smtp.DeliveryError) as unauthenticated:
            smtp.send(base, _outbox_row())
        assert not unauthenticated.value.permanent
        assert len(server.received) == 1


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "implicit-tls"])
def test_tls_verifies_the_servers_certificate(implicit: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    context, cert_file = self_signed(tmp_path)
    with SmtpServer(tls=context, implicit_tls=implicit) as server:
        settings = Settings(smtp_host=server.host, smtp_port=server.port, smtp_timeout_seconds=5,
                            smtp_starttls=not implicit, smtp_ssl=implicit)  # fmt: skip
        with pytest.raises(smtp.DeliveryError, match="CERTIFICATE_VERIFY_FAILED") as untrusted:
            smtp.send(settings, _outbox_row())
        assert not untrusted.value.permanent
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # now the client trusts the server's certificate
        smtp.send(settings, _outbox_row())
        [got] = server.received
        assert got.rcpt_tos == [ADA]


def test_plain_connection_to_a_server_that_requires_starttls_is_refused(tmp_path: Path) -> None:
    context, _ = self_signed(tmp_path)
    with SmtpServer(tls=context) as server:
        settings = Settings(smtp_host=server.host, smtp_port=server.port, smtp_timeout_seconds=5)
        with pytest.raises(smtp.DeliveryError, match="530") as err:
            smtp.send(settings, _outbox_row())
        assert not err.value.permanent
        assert server.received == []


def test_tls_and_ssl_together_is_a_configuration_error() -> None:
    settings = Settings(smtp_ssl=True, smtp_starttls=True)
    with pytest.raises(smtp.DeliveryError, match="not both") as err:
        smtp.send(settings, _outbox_row())
    assert not err.value.permanent


def test_starttls_against_a_server_without_it_is_temporary() -> None:
    with SmtpServer() as server:
        settings = Settings(smtp_host=server.host, smtp_port=server.port, smtp_starttls=True, smtp_timeout_seconds=5)
        with pytest.raises(smtp.DeliveryError) as err:
            smtp.send(settings, _outbox_row())
        assert not err.value.permanent
        assert server.received == []
