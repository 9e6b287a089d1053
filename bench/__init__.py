"""Benchmarks of publisher: `python -m bench [--only NAME] [--quick]` writes docs/benchmarks.md."""
