"""The audit log: who changed what, when, and through which interface."""
