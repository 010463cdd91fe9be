"""Lifecycle stages: where a person is in the funnel, with a timestamp for every stage they entered."""
