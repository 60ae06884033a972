"""Graph nodes, one per module: each reads what it needs, calls services and returns a partial state update."""
