"""Durable background work kept in the database (no in-memory queue that loses work on a crash)."""
