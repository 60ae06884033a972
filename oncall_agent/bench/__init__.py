"""Benchmark scripts (run as modules, never as tests)."""
