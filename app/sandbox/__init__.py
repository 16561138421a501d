"""Deterministic SIMULATED node (state generator, later an LND REST simulator) for demo and tests."""
