"""Consent and privacy: the consent ledger, suppression, the one send/export gate, double opt-in,
preference centre and unsubscribe, data-subject requests and retention."""
