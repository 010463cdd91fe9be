"""Benchmarks: python -m bench.bench_demo, python -m bench.bench_model (see docs/demo-data.md)."""
