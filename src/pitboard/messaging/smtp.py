"""SMTP delivery of one outbox message. The only module that talks SMTP.

``send`` builds the MIME message from the row (text part, HTML alternative when there is one, the row's
Message-ID, Date and extra headers such as List-Unsubscribe), connects as configured (implicit TLS, STARTTLS,
login) and hands it over. Failures come out as :class:`DeliveryError`: ``permanent`` when retrying the same
message cannot help (a 5xx refusal of the recipient or of the content), temporary for everything else
(4xx replies, connection and TLS errors, a refused login or sender, which are configuration to fix before
the retries run out).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from pitboard.logging import get_logger
from pitboard.models import Message
from pitboard.settings import Settings

log = get_logger(__name__)

# Set from the row's own columns; an extra header must not override them.
RESERVED_HEADERS = frozenset(
    h.lower()
    for h in ("From", "To", "Cc", "Bcc", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
              "Content-Transfer-Encoding", "Sender", "Return-Path")
)  # fmt: skip


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool, code: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code


def build_mime(message: Message) -> EmailMessage:
    """The email exactly as it goes on the wire (also what tests and previews look at)."""
    mime = EmailMessage()
    try:
        mime["From"] = message.from_address
        mime["To"] = message.to_address
        mime["Subject"] = message.subject
        mime["Date"] = format_datetime(message.created_at)
        mime["Message-ID"] = message.message_id_header
        for name, value in (message.headers or {}).items():
            if name.lower() in RESERVED_HEADERS:
                raise DeliveryError(f"header {name} is set from the message itself", permanent=True)
            mime[name] = str(value)
    except (ValueError, TypeError) as exc:  # an address or header value the email package cannot encode
        raise DeliveryError(f"message {message.id} cannot be encoded: {exc}", permanent=True) from exc
    mime.set_content(message.body_text)
    if message.body_html:
        mime.add_alternative(message.body_html, subtype="html")
    return mime


def envelope_address(header_value: str) -> str:
    """The bare address of a From/To header value (``pitboard <m@x.org>`` → ``m@x.org``), for MAIL FROM/RCPT TO."""
    _name, addr = parseaddr(header_value)
    if not addr:
        raise DeliveryError(f"{header_value!r} has no email address", permanent=True)
    return addr


def send(settings: Settings, message: Message) -> None:
    """Hand ``message`` to the configured SMTP server; returns once the server accepted it (250 after DATA)."""
    mime = build_mime(message)
    sender, recipient = envelope_address(message.from_address), envelope_address(message.to_address)
    try:
        connection = _connect(settings)
    except DeliveryError:
        raise
    except (smtplib.SMTPException, OSError) as exc:  # ssl.SSLError and timeouts are OSErrors
        raise _classify(exc) from exc
    try:
        connection.send_message(mime, from_addr=sender, to_addrs=[recipient])
    except (smtplib.SMTPException, OSError) as exc:
        raise _classify(exc) from exc
    finally:
        _close(connection)


def _connect(settings: Settings) -> smtplib.SMTP:
    if settings.smtp_ssl and settings.smtp_starttls:
        raise DeliveryError("set smtp_ssl (implicit TLS, port 465) or smtp_starttls (port 587), not both",
                            permanent=False)  # fmt: skip
    context = ssl.create_default_context()
    connection: smtplib.SMTP
    if settings.smtp_ssl:
        connection = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds, context=context
        )
    else:
        connection = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds)
    try:
        if settings.smtp_starttls:
            connection.starttls(context=context)
            connection.ehlo()  # capabilities change once the channel is encrypted
        if settings.smtp_username:
            connection.login(settings.smtp_username, settings.smtp_password or "")
    except BaseException:
        _close(connection)
        raise
    return connection


def _close(connection: smtplib.SMTP) -> None:
    # After DATA was accepted the message is the server's; a failed QUIT must not turn that into a failure.
    try:
        connection.quit()
    except (smtplib.SMTPException, OSError):
        connection.close()


def _classify(exc: BaseException) -> DeliveryError:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = list(exc.recipients.values())
        text = "; ".join(f"{c} {_decode(m)}" for c, m in replies)
        permanent = bool(replies) and all(c >= 500 for c, _ in replies)
        code = max((c for c, _ in replies), default=None)
        return DeliveryError(f"recipient refused: {text}", permanent=permanent, code=code)
    if not isinstance(exc, smtplib.SMTPResponseException):
        return DeliveryError(f"SMTP connection failed: {type(exc).__name__}: {exc}", permanent=False)
    reply = f"{exc.smtp_code} {_decode(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPSenderRefused):
        what = f"sender {exc.sender} refused (check mail_from and the relay's permissions)"
    elif isinstance(exc, smtplib.SMTPAuthenticationError):
        what = "SMTP login refused (check smtp_username and smtp_password)"
    elif isinstance(exc, smtplib.SMTPDataError):
        # A 5xx after DATA rejects this content (size, policy, spam verdict): sending it again would fail too.
        return DeliveryError(f"message refused: {reply}", permanent=exc.smtp_code >= 500, code=exc.smtp_code)
    else:
        what = "SMTP error"
    return DeliveryError(f"{what}: {reply}", permanent=False, code=exc.smtp_code)


def _decode(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
