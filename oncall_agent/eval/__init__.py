"""The scenario benchmark: `oncall-agent eval DIR` (SCENARIOS.md "Scoring").

`scoring` holds the culprit-matching rule, `report` scores one outcome against a scenario's truth and renders the
table, summary and JSON, and `runner` runs the agent in a fresh sandbox world per scenario and measures it.
"""
