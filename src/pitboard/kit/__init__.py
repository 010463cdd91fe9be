"""Framework-free helpers shared by every domain: database, errors, time, pagination, security."""
