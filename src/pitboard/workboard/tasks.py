"""Background tasks for campaign operations and the work board (``@task`` / ``@periodic``)."""

from __future__ import annotations
