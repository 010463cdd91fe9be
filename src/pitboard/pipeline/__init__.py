"""Pipeline: opportunities with amounts, stages, and how they closed."""
