"""The only place vendor SDKs are imported: each module implements ports over a real client."""
