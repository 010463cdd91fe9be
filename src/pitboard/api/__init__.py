"""The FastAPI application: REST API under /api/v1, web UI at /, health at /health."""
