"""Background loops of the issuance-service: relays, consumers, reconcilers, retention."""
