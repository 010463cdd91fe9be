"""pitboard: the marketing team's pit crew.

One clean source of truth for contacts, accounts, activities, campaigns and pipeline.
"""

__version__ = "0.1.0"
