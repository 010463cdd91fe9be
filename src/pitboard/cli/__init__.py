"""The ``pitboard`` command line."""
