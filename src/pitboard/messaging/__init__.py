"""Outbound messages: the email outbox, templates and SMTP delivery.

Every email pitboard sends is written to the ``messages`` outbox by :func:`pitboard.messaging.outbox.enqueue_email`
and delivered by the ``messaging.deliver`` job; both steps ask the consent gate (``pitboard.consent.gate``).
"""
