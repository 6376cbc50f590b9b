"""Background loops of the redemption-service: the outbox relay, the reconciler, retention."""
