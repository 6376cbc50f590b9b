"""`python -m issuance_service [serve|migrate|reconcile]`: the only place that reads the
environment."""

from __future__ import annotations

from coupon_core.scripts import load_scripts
from coupon_core.settings import load_settings
from coupon_core.web import main, reconcile_command

from issuance_service.app import LUA_DIR, MIGRATIONS_DIR, SERVICE, create_app
from issuance_service.reconcile import reconcile
from issuance_service.settings import Settings


def run() -> None:
    main(
        service=SERVICE,
        load=lambda: load_settings(Settings),
        create_app=create_app,  # type: ignore[arg-type]
        migrations_dir=MIGRATIONS_DIR,
        extra_commands={
            "reconcile": reconcile_command(
                lambda pool, redis: reconcile(pool, redis, load_scripts(redis, LUA_DIR), None)
            )
        },
    )


if __name__ == "__main__":
    run()
