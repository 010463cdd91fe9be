"""Lead routing (issue 7): see docs/routing.md."""

from pitboard.routing import privacy as _privacy  # noqa: F401  (registers the "assignments" export section)
