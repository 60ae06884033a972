"""ServiceNow / GitHub mirroring through the outbox (arrives with the walking-skeleton issue)."""
