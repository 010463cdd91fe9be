"""Contacts, accounts, identities and typed custom fields."""
