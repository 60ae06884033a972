"""Runbooks, policy, approvals and action execution (arrives with the walking-skeleton issue)."""
