"""Background tasks for workflows; registered with ``@task`` / ``@periodic`` from ``worker.queue``."""

from __future__ import annotations
