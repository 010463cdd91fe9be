"""Contact and account deduplication: deterministic keys, blocking, Fellegi-Sunter scoring, clustering.

``load_contacts(session)`` → :class:`DedupeRecords`; ``dedupe_contacts(records)`` → :class:`DedupeResult`
(scored :class:`CandidatePair` objects with explanations, clusters per band); ``dedupe_accounts(rows)``;
``evaluate(clusters, ground_truth_path)`` against the demo generator's labels. See docs/dedupe.md.
"""

from pitboard.quality.dedupe.accounts import AccountPair, dedupe_accounts, load_accounts
from pitboard.quality.dedupe.engine import CandidatePair, DedupeConfig, DedupeResult, dedupe_contacts
from pitboard.quality.dedupe.evaluate import Evaluation, evaluate
from pitboard.quality.dedupe.records import DedupeRecords, load_contacts, records_from_rows

__all__ = [
    "AccountPair",
    "CandidatePair",
    "DedupeConfig",
    "DedupeRecords",
    "DedupeResult",
    "Evaluation",
    "dedupe_accounts",
    "dedupe_contacts",
    "evaluate",
    "load_accounts",
    "load_contacts",
    "records_from_rows",
]
