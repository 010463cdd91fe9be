"""Background tasks for lead routing; registered with ``@task`` / ``@periodic`` from ``worker.queue``."""

from __future__ import annotations
