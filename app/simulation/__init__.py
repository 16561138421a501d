"""Routing-traffic simulator on the channel graph, and the peer fee strategies it compares (decision evidence)."""
