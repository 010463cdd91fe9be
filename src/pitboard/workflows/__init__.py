"""Workflows (issue 8)."""
