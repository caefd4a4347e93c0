"""Benchmarks: run each with ``python -m bench.<name>``; they print a table and compare against a baseline."""
