"""Lead scoring: fit and engagement scores per model, with caps, decay, thresholds and an explanation.

See docs/scoring.md. ``schemas`` is the scoring.yml format, ``definitions`` stores models, ``engine`` scores
contacts (bulk and incremental) and explains a score, ``simulate`` answers what a change would do.

Importing the package registers the ``scores`` section of data-subject exports, so every process that can
answer an access request (API, CLI, worker) includes scores.
"""

from pitboard.scoring import privacy as _privacy  # noqa: F401  (registers the export section)
