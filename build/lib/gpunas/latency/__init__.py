"""Latency phase: layer keys, profiling backends, the LUT, costing, partitioning, fidelity."""
