"""Background tasks of the promotion-service."""
