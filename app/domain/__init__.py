"""Pydantic models shared by every layer of the service."""
