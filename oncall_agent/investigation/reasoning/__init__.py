"""The optional LLM step (DESIGN.md §5, `reason`): prompt, citation check, how the two rankings combine, and the
guarded call (deadline, failures as gaps, token and cost totals). Pure functions; the node is a thin wrapper."""
