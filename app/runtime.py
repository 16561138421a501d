"""Mutable runtime state owned by the application lifespan (never a module-level global)."""

from __future__ import annotations

from dataclasses import dataclass

from app.graph.centrality import CentralityScores
from app.graph.model import ChannelGraph


@dataclass
class GraphState:
    """The channel graph and its centrality once loaded, or the error that stopped loading."""

    graph: ChannelGraph | None = None
    centrality: CentralityScores | None = None
    error: str | None = None

    @property
    def ready(self) -> bool:
        """Both graph and centrality are available."""
        return self.graph is not None and self.centrality is not None
