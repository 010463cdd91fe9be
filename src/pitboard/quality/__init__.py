"""Data quality: input standards (data contracts) now; normalisation, dedupe and enrichment follow."""
