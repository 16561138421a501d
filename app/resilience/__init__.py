"""Per-node protection: retries with backoff, rate limiting and a circuit breaker."""
