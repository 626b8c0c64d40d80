"""Benchmarks: `python -m bench` (all, writes bench/results.md) or `python -m bench NAME …`; see docs/performance.md."""
