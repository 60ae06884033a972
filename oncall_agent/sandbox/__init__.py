"""Local world for demo, tests and eval: moto server, GitHub / ServiceNow / CloudTrail stand-ins, scenarios.

Only `oncall_agent.cli` (and tests) import this package; the production image does not install its extras.
"""
