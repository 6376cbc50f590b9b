"""`python -m promotion_service [serve|migrate]`: the only place that reads the environment."""

from __future__ import annotations

from coupon_core.settings import load_settings
from coupon_core.web import main

from promotion_service.app import MIGRATIONS_DIR, SERVICE, create_app
from promotion_service.settings import Settings


def run() -> None:
    main(
        service=SERVICE,
        load=lambda: load_settings(Settings),
        create_app=create_app,  # type: ignore[arg-type]
        migrations_dir=MIGRATIONS_DIR,
    )


if __name__ == "__main__":
    run()
