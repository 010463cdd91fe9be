"""Background tasks for measurement; registered with ``@task`` / ``@periodic`` from ``worker.queue``."""

from __future__ import annotations
