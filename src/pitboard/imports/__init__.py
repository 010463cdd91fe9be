"""Bulk import of contacts and accounts from CSV and JSON Lines."""
