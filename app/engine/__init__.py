"""Scoring heuristics, weighted totals and decision rules."""
