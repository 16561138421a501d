"""Periodic shadow cycles, single-flight per node across replicas through a MongoDB lease."""
