"""People who log in and API keys, with roles (viewer < editor < admin)."""
