"""Control plane for Lightning Network fee optimization."""
