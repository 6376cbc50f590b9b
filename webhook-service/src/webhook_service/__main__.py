"""`python -m webhook_service [serve|migrate]`: the only place that reads the environment."""

from __future__ import annotations

from coupon_core.web import main

from webhook_service.app import MIGRATIONS_DIR, SERVICE, create_app
from webhook_service.settings import Settings

if __name__ == "__main__":
    main(SERVICE, Settings, create_app, MIGRATIONS_DIR)
