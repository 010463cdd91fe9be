"""Segments: dynamic sets of contacts or accounts that follow a condition, static lists, and the history of
who was in when. See docs/segments.md.

Importing the package registers its background work (the ``contacts.changed`` listener and the refresh
tasks) and its part in data-subject export and erasure, so every process that imports it takes part.
"""

from pitboard.segments import privacy as _privacy  # noqa: F401  (registers the erasure step and export section)
from pitboard.segments import tasks as _tasks  # noqa: F401  (registers the listener and the refresh tasks)
