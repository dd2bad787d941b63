"""Benchmarks that run the real engine beside a raw baseline and print the ratio (not tests)."""
