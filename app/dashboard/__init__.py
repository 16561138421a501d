"""The operator's dashboard: server-rendered pages over the same services the API routes call."""
