"""Ops as code: a folder of YAML that is loaded, validated, planned and applied."""
