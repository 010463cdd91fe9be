"""Data-subject requests (access/export and erasure) and the retention policy.

``requests`` runs a request from receipt to answer, ``export`` gathers everything held about a person,
``erasure`` removes it (keeping anonymised event aggregates, a salted-hash suppression and a tombstone), and
``retention`` erases what has been kept too long. See docs/privacy.md.
"""
