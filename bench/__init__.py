"""Benchmarks of the portal (`make bench`); not part of the test suite. See BENCHMARKS.md."""
