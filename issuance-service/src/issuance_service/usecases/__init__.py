"""What a user does, one module each; the transaction boundary lives here."""
