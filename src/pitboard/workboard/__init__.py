"""Campaign operations and work board (issue 10)."""
