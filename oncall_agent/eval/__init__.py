"""Scenario benchmark runner and scoring (arrives with the investigation-quality issue)."""
