"""Persistence: SQLAlchemy Core tables, Alembic migrations, SQLite (default) and PostgreSQL."""
