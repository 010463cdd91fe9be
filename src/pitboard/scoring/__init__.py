"""Lead scoring: fit and engagement scores per model, with caps, decay, thresholds and an explanation.

See docs/scoring.md. ``schemas`` is the scoring.yml format, ``definitions`` stores models, ``engine`` scores
contacts (bulk and incremental) and explains a score, ``simulate`` answers what a change would do.
"""
