"""HTTP routes, handlers and the pydantic schemas of the Sylius family."""
