"""The LangGraph investigation (arrives with the walking-skeleton issue)."""
