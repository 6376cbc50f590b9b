"""SQL and repositories of the promotion-service; they return typed models."""
