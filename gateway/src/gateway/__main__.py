"""`python -m gateway [serve|migrate]`: the only place that reads the environment."""

from __future__ import annotations

from coupon_core.web import main

from gateway.app import MIGRATIONS_DIR, SERVICE, create_app
from gateway.settings import Settings

if __name__ == "__main__":
    main(SERVICE, Settings, create_app, MIGRATIONS_DIR)
