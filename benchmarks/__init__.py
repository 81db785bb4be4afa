"""Benchmarks run against the real local services (``python -m benchmarks.<name>``)."""
