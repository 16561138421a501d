"""Storage tests: a real nx-27017 (or MCP_MONGODB_URL) over a socket, one fresh database per test."""
