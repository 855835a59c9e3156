"""Offline measurement: labeled-conversation runs, tau2-style simulation, benchmarks and reports."""
