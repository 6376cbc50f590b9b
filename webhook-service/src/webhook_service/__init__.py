"""The webhook-service: endpoints, signed deliveries of the platform's events, retries."""
