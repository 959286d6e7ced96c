"""Benchmarks: each prints a table and writes results/<name>.md and .json (kit.py); report.py joins them into
results/benchmarks.md. size, heap, latency, cpu are `make bench`; modbus, ocppj and csr run on their own."""
