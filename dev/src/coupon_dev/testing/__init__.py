"""Test support: real PostgreSQL and Redis for any test, and helpers to call services."""
