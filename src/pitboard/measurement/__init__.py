"""Measurement (issue 9)."""
