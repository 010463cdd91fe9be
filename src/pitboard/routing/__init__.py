"""Lead routing (issue 7)."""
