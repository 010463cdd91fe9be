"""Segment-spec compatible tracking: message normalisation, channel attribution, ingestion and its HTTP API."""
