"""Pure domain types and rules: no I/O, no vendor SDKs (stdlib and pydantic only)."""
