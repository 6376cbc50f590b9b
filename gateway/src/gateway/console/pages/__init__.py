"""The console's pages, one module per area; each has ``add_routes(router)``."""
