"""Benchmarks of the Stax Orchestrator (`make bench`); see bench/README.md."""
