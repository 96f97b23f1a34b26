"""Micro-benchmarks; each prints its result as a `BENCH <name> key=value ...` last line."""
