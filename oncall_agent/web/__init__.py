"""HTTP surface: webhooks, health and metrics (FastAPI)."""
