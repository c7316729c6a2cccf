"""Benchmarks: scripts that print measurements and ratios from one run (never timed tests)."""
