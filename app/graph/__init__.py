"""Channel-graph loading, synthetic generation and centrality."""
