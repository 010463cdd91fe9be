"""Deterministic synthetic demo data: a year of a B2B company's marketing and sales data, with labelled dirt.

``generate_demo(engine, contacts=..., seed=...)`` fills a migrated database; see docs/demo-data.md.
"""

from pitboard.demo.runner import DemoSummary, Progress, generate_demo

__all__ = ["DemoSummary", "Progress", "generate_demo"]
